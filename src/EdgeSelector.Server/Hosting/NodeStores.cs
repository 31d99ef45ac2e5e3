using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Dashboard;
using EdgeSelector.Server.Health;
using EdgeSelector.Server.Serving;
using EdgeSelector.Storage.Health;
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
    private TimeSpan _shutdownTimeout = TimeSpan.FromSeconds(5);

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

    /// <summary>Bytes accepted by the impression log (in its appender ring or appended) but not yet durable.</summary>
    public long ImpressionLogLagBytes => Impressions?.LagBytes ?? 0;

    /// <summary>Readiness and health of the stores (docs/reliability.md).</summary>
    public NodeHealth Health { get; private set; } = null!;

    /// <summary>How long an admin write waits to be durable (<c>EdgeSelector:StoreWriteTimeoutSeconds</c>).</summary>
    public TimeSpan WriteTimeout { get; private set; }

    /// <summary>
    /// Opens every store under <see cref="EdgeSelectorOptions.DataDir"/>, checking its files (damage is reported on
    /// /healthz and stderr, or refused: <see cref="StartupRefusedException"/>, exit code 3); nothing stays open if one fails.
    /// </summary>
    public static NodeStores Open(EdgeSelectorOptions options, IReadOnlyList<string>? retentionReaders = null)
    {
        var dataDir = Path.GetFullPath(options.DataDir);
        Directory.CreateDirectory(dataDir);
        StartupRefusedException.CheckDiskSpace(options);
        var stores = new NodeStores(dataDir) { _shutdownTimeout = TimeSpan.FromSeconds(options.ShutdownTimeoutSeconds / 4) };
        var closeTimeout = stores._shutdownTimeout;
        var reports = new List<StoreOpenReport>();
        try
        {
            stores.Models = ModelStore.Open(new ModelStoreOptions
            {
                DataDirectory = Path.Combine(dataDir, "models"),
                MemoryBytes = (long)options.ModelMemoryMB << 20,
                IndexBytes = (long)options.ModelIndexMB << 20,
                OnDamage = options.OnDamage,
                CloseTimeout = closeTimeout,
                // Every visitor type that reads models gets a pool of FASTER sessions of its own, so each is declared
                // here: the request path's scorer, and the dashboard's sample of candidates.
                // Rollout (#15): the candidate's feature space is checked against the active models'.
                Readers = [ModelReader.For<ScoringVisitor>(), RecentDecisions.ModelReader, ModelReader.For<Rollout.RolloutService.SchemaVisitor>()],
            });
            reports.Add(stores.Models.OpenReport);
            stores.Profiles = ProfileStore.Open(new ProfileStoreOptions
            {
                DataDirectory = Path.Combine(dataDir, "profiles"),
                MemoryBytes = (long)options.ProfileMemoryMB << 20,
                IndexBytes = (long)options.ProfileIndexMB << 20,
                CheckpointInterval = options.ProfileCheckpointSeconds > 0 ? TimeSpan.FromSeconds(options.ProfileCheckpointSeconds) : null,
                IndexCheckpointLogBytes = (long)options.ProfileIndexCheckpointMB << 20,
                OnDamage = options.OnDamage,
                CloseTimeout = closeTimeout,
            });
            reports.Add(stores.Profiles.OpenReport);
            if (options.LogImpressions)
            {
                stores.Impressions = ImpressionLog.Open(new ImpressionLogOptions
                {
                    DataDirectory = Path.Combine(dataDir, "impressions"),
                    MemoryBytes = (long)options.ImpressionLogMemoryMB << 20,
                    // Serving threads only post into the ring; its appender thread runs FasterLog (issue 12.6).
                    AppendRingBytes = (long)options.ImpressionLogRingMB << 20,
                    CommitInterval = TimeSpan.FromMilliseconds(options.LogCommitIntervalMs),
                    RetainBytes = options.LogRetentionMB << 20,
                    RetentionReaders = retentionReaders ?? [],
                    OnDamage = options.OnDamage,
                    CloseTimeout = closeTimeout,
                });
                reports.Add(stores.Impressions.OpenReport);
            }

            stores.Rewards = ImpressionLog.Open(new ImpressionLogOptions
            {
                DataDirectory = Path.Combine(dataDir, "rewards"),
                MemoryBytes = 8L << 20,
                PageBytes = 1L << 20,
                CommitInterval = TimeSpan.FromMilliseconds(options.LogCommitIntervalMs),
                RetainBytes = options.LogRetentionMB << 20,
                RetentionReaders = retentionReaders ?? [],
                OnDamage = options.OnDamage,
                CloseTimeout = closeTimeout,
            });
            reports.Add(stores.Rewards.OpenReport);
        }
        catch (StoreDamagedException e)
        {
            stores.Dispose();
            throw new StartupRefusedException($"{e.Message} (EdgeSelector:OnDamage=Refuse)", e);
        }
        catch
        {
            stores.Dispose();
            throw;
        }

        stores.WriteTimeout = TimeSpan.FromSeconds(options.StoreWriteTimeoutSeconds);
        stores.Health = new NodeHealth(stores.Models, stores.Profiles, stores.Impressions, stores.Rewards, dataDir, StartupRefusedException.CheckpointRoomBytes(options));
        foreach (var report in reports)
        {
            stores.Report(report.IsDamaged, report.Store, report.Message);
        }

        foreach (var (damaged, message) in LegacyFiles.Migrate(dataDir, stores.Models, stores.WriteTimeout))
        {
            stores.Report(damaged, "startup", message);
        }

        return stores;
    }

    /// <summary>
    /// Checkpoints the stores and commits the logs (shutdown, bulk loads, the dashboard's button), each waiting at most
    /// <paramref name="timeout"/>; false (and a line on stderr naming it) if one did not finish in time. Blocks the
    /// calling thread (shutdown, start-up seeding); the dashboard's button awaits <see cref="CheckpointAsync"/>.
    /// </summary>
    public bool Checkpoint(TimeSpan timeout) => CheckpointAsync(timeout).GetAwaiter().GetResult();

    /// <summary>As <see cref="Checkpoint"/>, without holding a thread while the stores' checkpoints write.</summary>
    public async Task<bool> CheckpointAsync(TimeSpan timeout)
    {
        var ok = true;
        ok &= await Step("models checkpoint", () => Models?.TryCheckpointAsync(timeout) ?? Task.FromResult(true)).ConfigureAwait(false);
        ok &= await Step("profiles checkpoint", () => Profiles?.TryCheckpointAsync(timeout) ?? Task.FromResult(true)).ConfigureAwait(false);
        ok &= await Step("impression log commit", () => Impressions?.TryCommitAsync(timeout) ?? Task.FromResult(true)).ConfigureAwait(false);
        ok &= await Step("reward log commit", () => Rewards?.TryCommitAsync(timeout) ?? Task.FromResult(true)).ConfigureAwait(false);
        return ok;

        static async Task<bool> Step(string what, Func<Task<bool>> step)
        {
            try
            {
                if (await step().ConfigureAwait(false))
                {
                    return true;
                }

                Console.Error.WriteLine($"edgeselector: {what} did not finish in time (disk full or failing?); what was durable before is kept");
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
            {
                Console.Error.WriteLine($"edgeselector: {what} failed: {e.Message}");
            }

            return false;
        }
    }

    /// <summary>Checkpoints (bounded by a quarter of <c>ShutdownTimeoutSeconds</c> per store) and closes every store.</summary>
    public void Dispose()
    {
        Health?.Dispose();
        Checkpoint(_shutdownTimeout);
        Impressions?.Dispose();
        Rewards?.Dispose();
        Profiles?.Dispose();
        Models?.Dispose();
    }

    private void Report(bool damaged, string component, string message)
    {
        if (damaged)
        {
            Health.StartupDamage(component, message);
            Console.Error.WriteLine($"edgeselector: WARNING: {message}");
        }
        else
        {
            // stderr, beside the warnings: stdout carries only the console logger's lines (JSON with the json formatter).
            Console.Error.WriteLine($"edgeselector: {message}");
        }
    }
}
