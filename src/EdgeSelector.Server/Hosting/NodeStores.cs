using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Dashboard;
using EdgeSelector.Server.Serving;
using EdgeSelector.Storage.Impressions;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;

namespace EdgeSelector.Server.Hosting;

/// <summary>
/// The node's durable state, opened together from <c>DataDir</c> (recovering each store's last checkpoint) and closed
/// together (checkpointing first): the model and profile stores and the impression and reward logs. A handle on the
/// storage layer for the host, the metrics and the seeding tools; services get the single store they use.
/// </summary>
internal sealed class NodeStores : IDisposable
{
    private NodeStores(string dataDir) => DataDir = dataDir;

    /// <summary>The data directory (absolute).</summary>
    public string DataDir { get; }

    /// <summary>Per-title models, by bundle generation.</summary>
    public ModelStore Models { get; private set; } = null!;

    /// <summary>Member profiles.</summary>
    public ProfileStore Profiles { get; private set; } = null!;

    /// <summary>The impression log; null when <c>LogImpressions</c> is off.</summary>
    public ImpressionLog? Impressions { get; private set; }

    /// <summary>The reward log.</summary>
    public ImpressionLog Rewards { get; private set; } = null!;

    /// <summary>Bytes held by the impression log (tail minus begin).</summary>
    public long ImpressionLogBytes => Impressions is null ? 0 : Impressions.TailAddress - Impressions.BeginAddress;

    /// <summary>Bytes appended to the impression log but not yet durable.</summary>
    public long ImpressionLogLagBytes => Impressions is null ? 0 : Math.Max(0, Impressions.TailAddress - Impressions.CommittedUntilAddress);

    /// <summary>Opens every store under <see cref="EdgeSelectorOptions.DataDir"/>; nothing stays open if one fails.</summary>
    public static NodeStores Open(EdgeSelectorOptions options)
    {
        var dataDir = Path.GetFullPath(options.DataDir);
        Directory.CreateDirectory(dataDir);
        var stores = new NodeStores(dataDir);
        try
        {
            stores.Models = ModelStore.Open(new ModelStoreOptions
            {
                DataDirectory = Path.Combine(dataDir, "models"),
                MemoryBytes = (long)options.ModelMemoryMB << 20,
                // Every visitor type that reads models gets a pool of FASTER sessions of its own, so each is declared
                // here: the request path's scorer, and the dashboard's sample of candidates.
                // Rollout (#15): the candidate's feature space is checked against the active models'.
                Readers = [ModelReader.For<ScoringVisitor>(), RecentDecisions.ModelReader, ModelReader.For<Rollout.RolloutService.SchemaVisitor>()],
            });
            stores.Profiles = ProfileStore.Open(new ProfileStoreOptions
            {
                DataDirectory = Path.Combine(dataDir, "profiles"),
                MemoryBytes = (long)options.ProfileMemoryMB << 20,
                CheckpointInterval = options.ProfileCheckpointSeconds > 0 ? TimeSpan.FromSeconds(options.ProfileCheckpointSeconds) : null,
            });
            if (options.LogImpressions)
            {
                stores.Impressions = ImpressionLog.Open(new ImpressionLogOptions
                {
                    DataDirectory = Path.Combine(dataDir, "impressions"),
                    MemoryBytes = (long)options.ImpressionLogMemoryMB << 20,
                    CommitInterval = TimeSpan.FromMilliseconds(options.LogCommitIntervalMs),
                    RetainBytes = options.LogRetentionMB << 20,
                });
            }

            stores.Rewards = ImpressionLog.Open(new ImpressionLogOptions
            {
                DataDirectory = Path.Combine(dataDir, "rewards"),
                MemoryBytes = 8L << 20,
                PageBytes = 1L << 20,
                CommitInterval = TimeSpan.FromMilliseconds(options.LogCommitIntervalMs),
                RetainBytes = options.LogRetentionMB << 20,
            });
            return stores;
        }
        catch
        {
            stores.Dispose();
            throw;
        }
    }

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
