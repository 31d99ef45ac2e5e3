namespace EdgeSelector.Server.Dashboard;

/// <summary>
/// What the dashboard shows of the fleet this node belongs to. The fleet wiring implements it and hands it to
/// <see cref="DashboardFeed.Fleet"/> once connected; the dashboard reads <see cref="Current"/> a few times a second, so
/// it must return the view the wiring last cached (from the heartbeats it already watches), never do a round trip.
/// </summary>
public interface IFleetView
{
    /// <summary>The fleet as this node last saw it.</summary>
    FleetSection Current { get; }
}

/// <summary>The <c>fleet</c> section of GET /dashboard/stats (absent when the node is not part of a fleet).</summary>
public sealed record FleetSection
{
    /// <summary>This node's id.</summary>
    public int Self { get; init; }

    /// <summary>How often nodes write a heartbeat: the page marks a node stale after three intervals without one.</summary>
    public long HeartbeatIntervalMs { get; init; }

    /// <summary>The bundle every node should serve, when a pointer is set.</summary>
    public FleetPointer? Pointer { get; init; }

    /// <summary>Every node's last heartbeat, this one included.</summary>
    public required List<FleetNode> Nodes { get; init; }

    /// <summary>Why the view may be out of date (e.g. NATS unreachable), for people; absent when all is well.</summary>
    public string? Error { get; init; }
}

/// <summary>The fleet's bundle pointer.</summary>
public sealed record FleetPointer(ulong Version, string Sha256, long PointedAtMs);

/// <summary>One node's last heartbeat.</summary>
public sealed record FleetNode
{
    /// <summary>The node's id (EdgeSelector:NodeId).</summary>
    public int NodeId { get; init; }

    /// <summary>Which process wrote it (host, pid, random part).</summary>
    public string Instance { get; init; } = string.Empty;

    /// <summary>Whether the node was ready when it wrote the heartbeat: it had a bundle and had caught up with the fleet's pointer.</summary>
    public bool Ready { get; init; }

    /// <summary>Version of the bundle the node serves.</summary>
    public ulong AppliedVersion { get; init; }

    /// <summary>Version of the last pointer the node saw.</summary>
    public ulong PointerVersion { get; init; }

    /// <summary>When the heartbeat was written (unix ms, that node's clock).</summary>
    public long HeartbeatAtMs { get; init; }

    /// <summary>Committed impression-log bytes not yet shipped.</summary>
    public long ImpressionLagBytes { get; init; }

    /// <summary>Committed reward-log bytes not yet shipped.</summary>
    public long RewardLagBytes { get; init; }

    /// <summary>Why the node refused the pointer's bundle, if it did.</summary>
    public string? BundleError { get; init; }

    /// <summary>The node's last shipping error, if shipping is failing now.</summary>
    public string? ShippingError { get; init; }
}
