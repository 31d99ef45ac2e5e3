using System.Text;
using EdgeSelector.Core.Security;
using EdgeSelector.Core.Selection;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Binary;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Health;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Resp;
using EdgeSelector.Server.Rollout;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Hosting;

/// <summary>
/// The node's object graph, composed in one place (<see cref="Compose"/>): options → stores → serving services →
/// front doors, each built with exactly what it uses, in the order the constructors make explicit. Nothing below
/// receives this object: it is the host's handle (listeners, admin routes, seeding, shutdown) and the tests'.
/// </summary>
internal sealed class EdgeSelectorNode : IDisposable
{
    private EdgeSelectorNode(EdgeSelectorOptions options, NodeStores stores)
    {
        Options = options;
        Stores = stores;
        var protocol = options.ToProtocolOptions();
        Engine = new SelectionEngine(options.ToSelectionOptions());
        Defaults = new DefaultImages(stores.Models);
        var tagsIssued = stores.Rewards.TailAddress > stores.Rewards.BeginAddress || stores.Impressions is { } log && log.TailAddress > log.BeginAddress;
        EventTags = EventTagKeys.Load(options, stores.DataDir, tagsIssued, out var nodeLocalKey, out var keyDamage);
        NodeLocalEventKeyPath = nodeLocalKey;
        if (keyDamage is not null)
        {
            stores.Health.StartupDamage(EventTagKeys.NodeLocalFileName, keyDamage);
            Console.Error.WriteLine($"edgeselector: WARNING: {keyDamage}");
        }
        Bundles = new BundleService(stores.Models, Defaults, Encoding.UTF8.GetBytes(options.BundleKey), stores.WriteTimeout);
        Selection = new SelectionService(
            Engine,
            stores.Models,
            stores.Profiles,
            Defaults,
            new EventIds(options.NodeId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()),
            EventTags,
            stores.Impressions,
            new SheddingPolicy(options),
            Metrics,
            options.MaxTitlesPerPage)
        {
            PageDiversityPenalty = options.PageDiversityPenalty,
        };
        Rewards = new RewardService(stores.Rewards, EventTags, Metrics, TimeSpan.FromHours(options.AttributionWindowHours));

        // Rollout (#15, Rollout/): a candidate bundle next to the active one; the request and reward paths report to it.
        Rollout = new RolloutService(stores.Models, Bundles, Encoding.UTF8.GetBytes(options.BundleKey), stores.DataDir, options.Rollout);
        Selection.Rollout = Rollout;
        Rewards.Rollout = Rollout;

        var timeouts = new ConnectionTimeouts(options);
        var rewardCommitTimeout = TimeSpan.FromSeconds(options.RewardCommitTimeoutSeconds);
        Binary = new BinaryConnectionHandler(Selection, Rewards, protocol, timeouts, Heartbeat, Metrics, rewardCommitTimeout);
        BinaryLimit = new ConnectionLimit("binary", options.MaxConnections, BinaryConnectionHandler.Refusal);
        RespLimit = new ConnectionLimit("resp", options.RespMaxConnections > 0 ? options.RespMaxConnections : options.MaxConnections, RespConnectionHandler.Refusal);
        var respInfo = new RespServerInfo(Metrics, stores, Rollout, RespLimit, BinaryLimit, options.RespPort, options.NodeId, options.IdleTimeoutSeconds);
        Resp = new RespConnectionHandler(Selection, Rewards, options.MaxTitlesPerPage, options.RespMaxCommandBytes, timeouts, Heartbeat, Metrics, respInfo);
        Listeners = options.RespPort != 0 ? [BinaryLimit, RespLimit] : [BinaryLimit];
    }

    /// <summary>The validated configuration.</summary>
    public EdgeSelectorOptions Options { get; }

    /// <summary>The stores and logs.</summary>
    public NodeStores Stores { get; }

    /// <summary>Counters and gauges.</summary>
    public ServerMetrics Metrics { get; } = new();

    /// <summary>The deadlines of every open TCP connection.</summary>
    public ConnectionHeartbeat Heartbeat { get; } = new();

    /// <summary>The selection engine (Core).</summary>
    public SelectionEngine Engine { get; }

    /// <summary>Tags every event id issued and verifies the tag of every reward (docs/protocol.md, "Event ids and tags").</summary>
    public EventTagger EventTags { get; }

    /// <summary>The node-local event-tag key file, when no fleet key is configured (the host says so at start); else null.</summary>
    public string? NodeLocalEventKeyPath { get; }

    /// <summary>Every title's default image.</summary>
    public DefaultImages Defaults { get; }

    /// <summary>Bundle pushes and rollbacks.</summary>
    public BundleService Bundles { get; }

    /// <summary>The request path.</summary>
    public SelectionService Selection { get; }

    /// <summary>Rewards.</summary>
    public RewardService Rewards { get; }

    /// <summary>The candidate bundle being tried, its arms' evidence and decisions (docs/rollout.md).</summary>
    public RolloutService Rollout { get; }

    /// <summary>The binary protocol's front door.</summary>
    public BinaryConnectionHandler Binary { get; }

    /// <summary>The binary port's connection budget.</summary>
    public ConnectionLimit BinaryLimit { get; }

    /// <summary>The RESP front door (listening only when <c>RespPort</c> is set).</summary>
    public RespConnectionHandler Resp { get; }

    /// <summary>The RESP port's connection budget.</summary>
    public ConnectionLimit RespLimit { get; }

    /// <summary>The budgets of the listening TCP ports (for /metrics).</summary>
    public IReadOnlyList<ConnectionLimit> Listeners { get; }

    /// <summary>Readiness and health (docs/reliability.md).</summary>
    public NodeHealth Health => Stores.Health;

    /// <summary>Ready to serve: a bundle is loaded and every store takes writes (<see cref="NodeHealth"/>).</summary>
    public bool IsReady => Health.Evaluate().Ready;

    /// <summary>Opens the stores and composes the services; nothing stays open if a step fails.</summary>
    /// <param name="options">The configuration.</param>
    /// <param name="retentionReaders">
    /// Log readers whose unacknowledged entries rotation must keep (the fleet's shipper, when the node is in a fleet).
    /// </param>
    public static EdgeSelectorNode Compose(EdgeSelectorOptions options, IReadOnlyList<string>? retentionReaders = null)
    {
        options.Validate();
        var stores = NodeStores.Open(options, retentionReaders);
        try
        {
            return new EdgeSelectorNode(options, stores);
        }
        catch
        {
            stores.Dispose();
            throw;
        }
    }

    /// <summary>Stops the heartbeat, then checkpoints and closes the stores.</summary>
    public void Dispose()
    {
        Heartbeat.Dispose();
        Rollout.Dispose();
        Stores.Dispose();
    }
}
