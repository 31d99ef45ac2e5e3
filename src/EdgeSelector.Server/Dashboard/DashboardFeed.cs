using System.Reflection;
using EdgeSelector.Server.Admin;
using EdgeSelector.Server.Hosting;
using EdgeSelector.Server.Metrics;

namespace EdgeSelector.Server.Dashboard;

/// <summary>
/// Reads what the dashboard shows from what the node already keeps: a <see cref="ServerMetrics.Snapshot"/> of the
/// counters, the bundle listing, the logs' addresses, the GC's numbers, the fleet view when there is one. Nothing here
/// runs on the request path or on a timer: each GET /dashboard/stats reads once (the page asks a few times a second).
/// </summary>
internal sealed class DashboardFeed
{
    private static readonly string ServerVersion = typeof(DashboardFeed).Assembly.GetName().Version?.ToString() ?? "0";

    private readonly EdgeSelectorNode _node;
    private readonly long _startedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    private IFleetView? _fleet;

    public DashboardFeed(EdgeSelectorNode node, IFleetView? fleet = null)
    {
        _node = node;
        _fleet = fleet;
        Titles = new RecentDecisions(node.Stores.Impressions, node.Stores.Models);
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
        var metrics = _node.Metrics.Snapshot();
        var stores = _node.Stores;
        var listing = Admin.AdminListings.Models(stores.Models, _node.Bundles.History);
        var health = _node.Health.Evaluate();
        var impressions = stores.Impressions;
        var rewards = stores.Rewards;
        var gc = GC.GetGCMemoryInfo();
        var fallbacks = new Dictionary<string, long>(metrics.Fallbacks.Length);
        for (var i = 0; i < metrics.Fallbacks.Length; i++)
        {
            fallbacks[ServerMetrics.ReasonName(ServerMetrics.CountedReasons[i])] = metrics.Fallbacks[i];
        }

        var statuses = new Dictionary<string, long>(metrics.Rewards.Length);
        for (var i = 0; i < metrics.Rewards.Length; i++)
        {
            statuses[ServerMetrics.StatusName(ServerMetrics.CountedStatuses[i])] = metrics.Rewards[i];
        }

        var listeners = _node.Listeners.Select(l => new ListenerSection(l.Listener, l.Open, l.Max, l.Accepted, l.Rejected)).ToList();

        return new DashboardStats
        {
            AtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Node = new NodeSection
            {
                NodeId = _node.Options.NodeId,
                StartedAtMs = _startedAtMs,
                Policy = _node.Engine.Options.Policy.ToString(),
                Ready = health.Ready,
                Readiness = health.Ready
                    ? $"ready: {stores.Models.TitleCount} titles, bundle {stores.Models.Version}{(health.Conditions.Count > 0 ? $" (degraded: {string.Join("; ", health.Conditions.Select(c => $"{c.Component}: {c.Reason}"))})" : string.Empty)}"
                    : $"not ready: {string.Join("; ", health.Conditions.Where(c => c.BlocksReadiness).Select(c => $"{c.Component}: {c.Reason}"))}",
                Version = ServerVersion,
            },
            LatencyBoundsMicros = ServerMetrics.LatencyBucketsMicros,
            Requests = [.. metrics.Ops.Select(o => new OpSection(o.Op, o.Requests, o.LatencySumMicros, o.Buckets))],
            Selections = metrics.Selections,
            ModelDecisions = new Dictionary<string, long>(2)
            {
                ["known"] = metrics.DecisionsWithProfile,
                ["none"] = metrics.DecisionsWithoutProfile,
            },
            Fallbacks = fallbacks,
            Rewards = statuses,
            ProtocolErrors = metrics.ProtocolErrors,
            InFlight = metrics.InFlight,
            Connections = new ConnectionSection(listeners.Sum(l => l.Open), listeners.Sum(l => l.Accepted), listeners.Sum(l => l.Rejected), listeners),
            ImpressionLog = new LogSection
            {
                Enabled = impressions is not null,
                Appended = metrics.ImpressionsLogged,
                Dropped = metrics.ImpressionsDropped,
                LagBytes = stores.ImpressionLogLagBytes,
                Bytes = stores.ImpressionLogBytes,
            },
            RewardLog = new LogSection
            {
                Enabled = true,
                Appended = metrics.Rewards[(int)EdgeSelector.Protocol.RewardStatus.Accepted],
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
