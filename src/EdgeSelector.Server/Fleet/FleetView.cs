using EdgeSelector.Fleet;
using EdgeSelector.Fleet.Status;
using EdgeSelector.Server.Dashboard;
using NATS.Client.Core;
using DashboardNode = EdgeSelector.Server.Dashboard.FleetNode;

namespace EdgeSelector.Server.Fleet;

/// <summary>
/// The dashboard's view of the fleet (<see cref="IFleetView"/>, docs/dashboard.md): every node's last heartbeat from a
/// watch on the <see cref="FleetNames.NodeBucket"/> bucket (the data <c>edgesel fleet status</c> reads), and the bundle
/// pointer this node's follower last saw. The watch rebuilds one immutable <see cref="FleetSection"/> per heartbeat that
/// arrives; <see cref="Current"/> returns it, so a dashboard read never waits for NATS.
/// </summary>
internal sealed class FleetView : IFleetView
{
    private readonly FleetConnection _connection;
    private readonly StatusChannel _status;
    private readonly Func<BundlePointer?> _pointer;
    private readonly int _self;
    private readonly long _heartbeatIntervalMs;
    private readonly ILogger _logger;

    // Written by the watch loop only; Current reads the section built from it.
    private readonly Dictionary<string, NodeStatus> _heartbeats = new(StringComparer.Ordinal);
    private Snapshot _current;
    private string? _error;

    public FleetView(FleetConnection connection, int self, TimeSpan heartbeatInterval, Func<BundlePointer?> pointer, ILogger logger)
    {
        _connection = connection;
        _status = new StatusChannel(connection);
        _pointer = pointer;
        _self = self;
        _heartbeatIntervalMs = (long)heartbeatInterval.TotalMilliseconds;
        _logger = logger;
        _current = new Snapshot(Build(self, _heartbeatIntervalMs, null, [], DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "waiting for the first heartbeats from NATS"), null);
    }

    /// <summary>
    /// The view as last built. Two things can change between heartbeats and are folded in here without NATS: a new
    /// pointer (the follower's, read from memory), and the connection dropping (the heartbeats shown are then the last
    /// ones seen, and the section says so).
    /// </summary>
    public FleetSection Current
    {
        get
        {
            var snapshot = Volatile.Read(ref _current);
            var pointer = _pointer();
            if (!ReferenceEquals(pointer, snapshot.Pointer))
            {
                // Only if the watch has not published a newer section meanwhile (that one has the new pointer already).
                var updated = new Snapshot(snapshot.Section with { Pointer = Map(pointer) }, pointer);
                snapshot = ReferenceEquals(Interlocked.CompareExchange(ref _current, updated, snapshot), snapshot) ? updated : Volatile.Read(ref _current);
            }

            var view = snapshot.Section;
            return view.Error is null && _connection.Nats.ConnectionState != NatsConnectionState.Open
                ? view with { Error = $"not connected to NATS at {_connection.Url}: showing the heartbeats seen last" }
                : view;
        }
    }

    /// <summary>Watches the heartbeats until <paramref name="cancellationToken"/> fires; a failed watch is retried every second.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var (key, status) in _status.WatchAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (status is null)
                    {
                        _heartbeats.Remove(key);
                    }
                    else
                    {
                        _heartbeats[key] = status;
                    }

                    _error = null;
                    Publish();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is NatsException or FleetException or TimeoutException or OperationCanceledException)
            {
                if (_error != e.Message)
                {
                    _logger.LogWarning("fleet: cannot watch the node heartbeats for the dashboard ({Error}); retrying", e.Message);
                }

                _error = e.Message;
                Publish();
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private void Publish()
    {
        var pointer = _pointer();
        Volatile.Write(ref _current, new Snapshot(Build(_self, _heartbeatIntervalMs, pointer, _heartbeats.Values, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), _error), pointer));
    }

    /// <summary>
    /// The section from the heartbeats: sorted by node id; a heartbeat older than the bucket keeps one
    /// (<see cref="FleetNames.NodeStatusMaxAge"/>) is dropped as the bucket drops it, and so is the former instance of a
    /// restarted node once its new instance is live (as <c>fleet status</c> marks it "former instance"). Two live
    /// instances with one node id are both kept: that is a misconfiguration to see.
    /// </summary>
    internal static FleetSection Build(int self, long heartbeatIntervalMs, BundlePointer? pointer, IEnumerable<NodeStatus> heartbeats, long nowMs, string? error)
    {
        var all = heartbeats.Where(h => nowMs - h.HeartbeatAtMs <= FleetNames.NodeStatusMaxAge.TotalMilliseconds).ToList();
        bool Live(NodeStatus n) => nowMs - n.HeartbeatAtMs < Math.Max(3 * n.HeartbeatIntervalMs, 2000);
        var shown = all
            .Where(n => Live(n) || !all.Any(o => !ReferenceEquals(o, n) && o.NodeId == n.NodeId && Live(o) && o.StartedAtMs >= n.StartedAtMs))
            .OrderBy(n => n.NodeId)
            .ThenBy(n => n.Instance, StringComparer.Ordinal)
            .Select(n => new DashboardNode
            {
                NodeId = n.NodeId,
                Instance = n.Instance,
                Ready = n.Ready,
                AppliedVersion = n.AppliedVersion,
                PointerVersion = n.PointerVersion,
                HeartbeatAtMs = n.HeartbeatAtMs,
                ImpressionLagBytes = n.ImpressionLagBytes,
                RewardLagBytes = n.RewardLagBytes,
                BundleError = n.BundleError,
                ShippingError = n.ShippingError,
            })
            .ToList();
        return new FleetSection
        {
            Self = self,
            HeartbeatIntervalMs = heartbeatIntervalMs,
            Pointer = Map(pointer),
            Nodes = shown,
            Error = error,
        };
    }

    private static FleetPointer? Map(BundlePointer? pointer) =>
        pointer is null ? null : new FleetPointer(pointer.Version, pointer.Sha256, pointer.PointedAtMs);

    // The section and the follower's pointer object it was built with (compared by reference on every read).
    private sealed class Snapshot(FleetSection section, BundlePointer? pointer)
    {
        public FleetSection Section { get; } = section;

        public BundlePointer? Pointer { get; } = pointer;
    }
}
