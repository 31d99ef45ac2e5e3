using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeSelector.Fleet;

/// <summary>
/// The value of <see cref="FleetNames.BundlePointerKey"/>: which bundle every node should serve. Flipping it is a
/// deployment; flipping it back to an older version is a rollback (the objects stay, immutable).
/// </summary>
public sealed record BundlePointer
{
    /// <summary>Bundle version (from its manifest).</summary>
    public ulong Version { get; init; }

    /// <summary>Object name in <see cref="FleetNames.BundleBucket"/>.</summary>
    public string Object { get; init; } = string.Empty;

    /// <summary>SHA-256 of the bundle bytes, lowercase hex: a node refuses a download that does not match.</summary>
    public string Sha256 { get; init; } = string.Empty;

    /// <summary>Size of the bundle in bytes.</summary>
    public long Size { get; init; }

    /// <summary>When the pointer was flipped (unix ms); <c>fleet status</c> measures "not applied within" from it.</summary>
    public long PointedAtMs { get; init; }
}

/// <summary>A node's heartbeat in <see cref="FleetNames.NodeBucket"/> (what <c>edgesel fleet status</c> shows).</summary>
public sealed record NodeStatus
{
    /// <summary>The node id (top 12 bits of its event ids); must be unique in a fleet.</summary>
    public int NodeId { get; init; }

    /// <summary>This process (host, pid and a random part): two live instances with one node id are a misconfiguration.</summary>
    public string Instance { get; init; } = string.Empty;

    /// <summary>The node's admin address as configured (for people).</summary>
    public string Admin { get; init; } = string.Empty;

    /// <summary>When this instance started (unix ms).</summary>
    public long StartedAtMs { get; init; }

    /// <summary>When this heartbeat was written (unix ms).</summary>
    public long HeartbeatAtMs { get; init; }

    /// <summary>How often the node writes one (ms): three missed ones mean the instance is gone.</summary>
    public long HeartbeatIntervalMs { get; init; }

    /// <summary>Whether /readyz answers 200.</summary>
    public bool Ready { get; init; }

    /// <summary>Version of the bundle the node serves.</summary>
    public ulong AppliedVersion { get; init; }

    /// <summary>Version of the last pointer the node saw.</summary>
    public ulong PointerVersion { get; init; }

    /// <summary>Why the node refused the pointer's bundle, if it did (it keeps serving <see cref="AppliedVersion"/>).</summary>
    public string? BundleError { get; init; }

    /// <summary>Last profile-stream sequence applied to the node's profile store.</summary>
    public ulong ProfilePosition { get; init; }

    /// <summary>Bytes of committed impression-log entries not yet acknowledged by JetStream.</summary>
    public long ImpressionLagBytes { get; init; }

    /// <summary>Bytes of committed reward-log entries not yet acknowledged by JetStream.</summary>
    public long RewardLagBytes { get; init; }

    /// <summary>The last shipping error, if the shipper is failing now (NATS unreachable, stream missing).</summary>
    public string? ShippingError { get; init; }
}

/// <summary>Source-generated JSON for the fleet's KV values (native AOT: no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BundlePointer))]
[JsonSerializable(typeof(NodeStatus))]
public sealed partial class FleetJsonContext : JsonSerializerContext
{
    /// <summary>Parses a pointer; a clear <see cref="FleetException"/> when the value is not one.</summary>
    public static BundlePointer ParsePointer(ReadOnlySpan<byte> json)
    {
        try
        {
            var pointer = JsonSerializer.Deserialize(json, Default.BundlePointer);
            if (pointer is null || pointer.Version == 0 || string.IsNullOrEmpty(pointer.Object) || pointer.Sha256.Length != 64)
            {
                throw new FleetException($"{FleetNames.PointerBucket}/{FleetNames.BundlePointerKey} is not a bundle pointer (version, object, sha256)");
            }

            return pointer;
        }
        catch (JsonException e)
        {
            throw new FleetException($"{FleetNames.PointerBucket}/{FleetNames.BundlePointerKey} is not valid JSON: {e.Message}", e);
        }
    }
}

/// <summary>A fleet operation failed for a reason a person can act on (unreachable NATS, missing stream, bad data).</summary>
public sealed class FleetException : Exception
{
    /// <summary>Creates the exception with its message.</summary>
    public FleetException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its message and cause.</summary>
    public FleetException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
