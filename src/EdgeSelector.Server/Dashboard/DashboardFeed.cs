using System.Reflection;
using EdgeSelector.Server.Admin;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Dashboard;

/// <summary>
/// Reads what the dashboard shows from what the node already keeps: a <see cref="ServerMetrics.Snapshot"/> of the
/// counters, the bundle listing, the logs' addresses, the GC's numbers, the fleet view when there is one. Nothing here
/// runs on the request path or on a timer: each GET /dashboard/stats reads once (the page asks a few times a second).
/// </summary>
internal sealed class DashboardFeed
{
    private static readonly string ServerVersion = typeof(DashboardFeed).Assembly.GetName().Version?.ToString() ?? "0";

    private readonly ServerState _state;
    private readonly long _startedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    private IFleetView? _fleet;

    public DashboardFeed(ServerState state, IFleetView? fleet = null)
    {
        _state = state;
        _fleet = fleet;
        Titles = new RecentDecisions(state);
    }

    /// <summary>The fleet view; the fleet wiring sets it once it has joined a fleet (null: not part of one).</summary>
    public IFleetView? Fleet
    {
        get => Volatile.Read(ref _fleet);
        set => Volatile.Write(ref _fleet, value);
    }

    /// <summary>The per-title sample of recent decisions (GET /dashboard/titles).</summary>
    public RecentDecisions Titles { get; }

    /// <summary>Reads every section once.</summary>
    public DashboardStats Read()
    {
        var metrics = _state.Metrics.Snapshot();
        var listing = _state.Bundles.List();
        var impressions = _state.Impressions;
        var rewards = _state.Rewards;
        var gc = GC.GetGCMemoryInfo();
        var fallbacks = new Dictionary<string, long>(metrics.Fallbacks.Length);
        for (var i = 0; i < metrics.Fallbacks.Length; i++)
        {
            fallbacks[ServerMetrics.ReasonName(ServerMetrics.CountedReasons[i])] = metrics.Fallbacks[i];
        }

        return new DashboardStats
        {
            AtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Node = new NodeSection
            {
                NodeId = _state.Options.NodeId,
                StartedAtMs = _startedAtMs,
                Policy = _state.Engine.Options.Policy.ToString(),
                Ready = _state.IsReady,
                Readiness = _state.IsReady
                    ? $"ready: {_state.Models.TitleCount} titles, bundle {_state.Models.Version}"
                    : "not ready: no model bundle loaded",
                Version = ServerVersion,
            },
            LatencyBoundsMicros = ServerMetrics.LatencyBucketsMicros,
            Requests = [.. metrics.Ops.Select(o => new OpSection(o.Op, o.Requests, o.LatencySumMicros, o.Buckets))],
            Selections = metrics.Selections,
            Fallbacks = fallbacks,
            Rewards = new Dictionary<string, long>(3)
            {
                ["accepted"] = metrics.RewardsAccepted,
                ["duplicate"] = metrics.RewardsDuplicate,
                ["unknown_event"] = metrics.RewardsUnknownEvent,
            },
            ProtocolErrors = metrics.ProtocolErrors,
            InFlight = metrics.InFlight,
            Connections = new ConnectionSection(metrics.Connections, metrics.ConnectionsAccepted, metrics.ConnectionsRejected),
            ImpressionLog = new LogSection
            {
                Enabled = impressions is not null,
                Appended = metrics.ImpressionsLogged,
                Dropped = metrics.ImpressionsDropped,
                LagBytes = _state.ImpressionLogLagBytes,
                Bytes = _state.ImpressionLogBytes,
            },
            RewardLog = new LogSection
            {
                Enabled = true,
                Appended = metrics.RewardsAccepted,
                LagBytes = Math.Max(0, rewards.TailAddress - rewards.CommittedUntilAddress),
                Bytes = rewards.TailAddress - rewards.BeginAddress,
            },
            Memory = new MemorySection
            {
                WorkingSetBytes = Environment.WorkingSet,
                GcHeapBytes = gc.HeapSizeBytes,
                GcCommittedBytes = gc.TotalCommittedBytes,
                AllocatedBytes = GC.GetTotalAllocatedBytes(),
                GcCollections = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)],
            },
            Bundle = new BundleSection
            {
                ActiveVersion = listing.ActiveVersion,
                PreviousVersion = listing.PreviousVersion,
                Titles = listing.Titles,
                Active = listing.Active is { } active ? Entry(active) : null,
                History = [.. listing.History.Select(Entry)],
            },
            Fleet = Fleet?.Current,
        };
    }

    private static BundleEntry Entry(BundleInfo info) => new()
    {
        Version = info.Version,
        ParentVersion = info.ParentVersion,
        CreatedAtMs = info.CreatedAtMs,
        AppliedAtMs = info.AppliedAtMs,
        TrainingFromMs = info.TrainingFromMs,
        TrainingToMs = info.TrainingToMs,
        Full = info.Full,
        Titles = info.Titles,
        KeyId = info.KeyId,
        Sha256 = info.Sha256,
    };
}
