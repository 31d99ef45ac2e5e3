using System.Text;
using EdgeSelector.Core.Security;
using EdgeSelector.Core.Selection;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Storage.Impressions;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// Everything a node holds: the stores (models, profiles), the impression and reward logs, the engine, the
/// defaults, the metrics. Opened once at start-up (recovering from the last checkpoints in <c>DataDir</c>), disposed
/// at shutdown (checkpointing first).
/// </summary>
internal sealed class ServerState : IDisposable
{
    public ServerState(EdgeSelectorOptions options)
    {
        Options = options.Validate();
        DataDir = Path.GetFullPath(options.DataDir);
        Directory.CreateDirectory(DataDir);
        Engine = new SelectionEngine(options.ToSelectionOptions());
        Protocol = options.ToProtocolOptions();
        AdminToken = Encoding.UTF8.GetBytes(options.AdminToken);
        BundleKey = Encoding.UTF8.GetBytes(options.BundleKey);
        EventIds = new EventIds(options.NodeId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        EventTags = EventTagKeys.Load(options, DataDir, out var nodeLocalKey);
        NodeLocalEventKeyPath = nodeLocalKey;
        Defaults = new DefaultImages(DataDir);
        try
        {
            Models = ModelStore.Open(new ModelStoreOptions
            {
                DataDirectory = Path.Combine(DataDir, "models"),
                MemoryBytes = (long)options.ModelMemoryMB << 20,
            });
            Profiles = ProfileStore.Open(new ProfileStoreOptions
            {
                DataDirectory = Path.Combine(DataDir, "profiles"),
                MemoryBytes = (long)options.ProfileMemoryMB << 20,
                CheckpointInterval = options.ProfileCheckpointSeconds > 0 ? TimeSpan.FromSeconds(options.ProfileCheckpointSeconds) : null,
            });
            if (options.LogImpressions)
            {
                Impressions = ImpressionLog.Open(new ImpressionLogOptions
                {
                    DataDirectory = Path.Combine(DataDir, "impressions"),
                    MemoryBytes = (long)options.ImpressionLogMemoryMB << 20,
                    CommitInterval = TimeSpan.FromMilliseconds(options.LogCommitIntervalMs),
                    RetainBytes = options.LogRetentionMB << 20,
                });
            }

            Rewards = ImpressionLog.Open(new ImpressionLogOptions
            {
                DataDirectory = Path.Combine(DataDir, "rewards"),
                MemoryBytes = 8L << 20,
                PageBytes = 1L << 20,
                CommitInterval = TimeSpan.FromMilliseconds(options.LogCommitIntervalMs),
                RetainBytes = options.LogRetentionMB << 20,
            });
        }
        catch
        {
            Dispose();
            throw;
        }

        Bundles = new BundleService(this);
        Selection = new SelectionService(this);
        RewardsService = new RewardService(this);
    }

    public EdgeSelectorOptions Options { get; }

    public string DataDir { get; }

    public SelectionEngine Engine { get; }

    public ProtocolOptions Protocol { get; }

    public byte[] AdminToken { get; }

    public byte[] BundleKey { get; }

    public EventIds EventIds { get; }

    /// <summary>Tags every event id issued and verifies the tag of every reward (docs/protocol.md, "Event ids and tags").</summary>
    public EventTagger EventTags { get; }

    /// <summary>The node-local event-tag key file, when no fleet key is configured (the host says so at start); else null.</summary>
    public string? NodeLocalEventKeyPath { get; }

    public DefaultImages Defaults { get; }

    public ServerMetrics Metrics { get; } = new();

    public ModelStore Models { get; } = null!;

    public ProfileStore Profiles { get; } = null!;

    public ImpressionLog? Impressions { get; }

    public ImpressionLog Rewards { get; } = null!;

    public BundleService Bundles { get; }

    public SelectionService Selection { get; }

    public RewardService RewardsService { get; }

    /// <summary>A title for which selections throw (fault injection for the tests of the "internal error" path); 0 = off.</summary>
    public uint FaultInjectionTitleId { get; set; }

    /// <summary>Ready to serve: at least one bundle is loaded.</summary>
    public bool IsReady => Models.TitleCount > 0;

    /// <summary>Bytes held by the impression log (tail minus begin).</summary>
    public long ImpressionLogBytes => Impressions is null ? 0 : Impressions.TailAddress - Impressions.BeginAddress;

    /// <summary>Bytes appended to the impression log but not yet durable.</summary>
    public long ImpressionLogLagBytes => Impressions is null ? 0 : Math.Max(0, Impressions.TailAddress - Impressions.CommittedUntilAddress);

    /// <summary>Checkpoints the stores and commits the logs (shutdown, and after bulk loads).</summary>
    public void Checkpoint()
    {
        Models?.Checkpoint();
        Profiles?.Checkpoint();
        Impressions?.Commit();
        Rewards?.Commit();
    }

    public void Dispose()
    {
        try
        {
            Checkpoint();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
        {
            Console.Error.WriteLine($"edgeselector: checkpoint at shutdown failed: {e.Message}");
        }

        Impressions?.Dispose();
        Rewards?.Dispose();
        Profiles?.Dispose();
        Models?.Dispose();
    }
}
