using System.Text;
using EdgeSelector.Core.Selection;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Health;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Storage.Health;
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
        StartupRefusedException.CheckDiskSpace(options);
        var closeTimeout = TimeSpan.FromSeconds(options.ShutdownTimeoutSeconds / 4);
        var reports = new List<StoreOpenReport>();
        try
        {
            Models = ModelStore.Open(new ModelStoreOptions
            {
                DataDirectory = Path.Combine(DataDir, "models"),
                MemoryBytes = (long)options.ModelMemoryMB << 20,
                IndexBytes = (long)options.ModelIndexMB << 20,
                OnDamage = options.OnDamage,
                CloseTimeout = closeTimeout,
            });
            reports.Add(Models.OpenReport);
            Profiles = ProfileStore.Open(new ProfileStoreOptions
            {
                DataDirectory = Path.Combine(DataDir, "profiles"),
                MemoryBytes = (long)options.ProfileMemoryMB << 20,
                IndexBytes = (long)options.ProfileIndexMB << 20,
                CheckpointInterval = options.ProfileCheckpointSeconds > 0 ? TimeSpan.FromSeconds(options.ProfileCheckpointSeconds) : null,
                OnDamage = options.OnDamage,
                CloseTimeout = closeTimeout,
            });
            reports.Add(Profiles.OpenReport);
            if (options.LogImpressions)
            {
                Impressions = ImpressionLog.Open(new ImpressionLogOptions
                {
                    DataDirectory = Path.Combine(DataDir, "impressions"),
                    MemoryBytes = (long)options.ImpressionLogMemoryMB << 20,
                    CommitInterval = TimeSpan.FromMilliseconds(options.LogCommitIntervalMs),
                    RetainBytes = options.LogRetentionMB << 20,
                    OnDamage = options.OnDamage,
                    CloseTimeout = closeTimeout,
                });
                reports.Add(Impressions.OpenReport);
            }

            Rewards = ImpressionLog.Open(new ImpressionLogOptions
            {
                DataDirectory = Path.Combine(DataDir, "rewards"),
                MemoryBytes = 8L << 20,
                PageBytes = 1L << 20,
                CommitInterval = TimeSpan.FromMilliseconds(options.LogCommitIntervalMs),
                RetainBytes = options.LogRetentionMB << 20,
                OnDamage = options.OnDamage,
                CloseTimeout = closeTimeout,
            });
            reports.Add(Rewards.OpenReport);
        }
        catch (StoreDamagedException e)
        {
            Dispose();
            throw new StartupRefusedException($"{e.Message} (EdgeSelector:OnDamage=Refuse)", e);
        }
        catch
        {
            Dispose();
            throw;
        }

        WriteTimeout = TimeSpan.FromSeconds(options.StoreWriteTimeoutSeconds);
        Health = new NodeHealth(Models, Profiles, Impressions, Rewards, DataDir, StartupRefusedException.CheckpointRoomBytes(options));
        foreach (var report in reports)
        {
            Report(report.IsDamaged, report.Store, report.Message);
        }

        foreach (var (damaged, message) in LegacyFiles.Migrate(DataDir, Models, WriteTimeout))
        {
            Report(damaged, "startup", message);
        }

        Defaults = new DefaultImages(Models);
        Bundles = new BundleService(Models, Defaults, BundleKey, WriteTimeout);
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

    public DefaultImages Defaults { get; }

    /// <summary>Readiness and health (docs/reliability.md).</summary>
    public NodeHealth Health { get; } = null!;

    /// <summary>How long an admin write waits to be durable (EdgeSelector:StoreWriteTimeoutSeconds).</summary>
    public TimeSpan WriteTimeout { get; }

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

    /// <summary>Ready to serve: a bundle is loaded and every store takes writes (<see cref="NodeHealth"/>).</summary>
    public bool IsReady => Health.Evaluate().Ready;

    /// <summary>Bytes appended to the reward log but not yet durable.</summary>
    public long RewardLogLagBytes => Rewards is null ? 0 : Rewards.LagBytes;

    /// <summary>Bytes held by the impression log (tail minus begin).</summary>
    public long ImpressionLogBytes => Impressions is null ? 0 : Impressions.TailAddress - Impressions.BeginAddress;

    /// <summary>Bytes appended to the impression log but not yet durable.</summary>
    public long ImpressionLogLagBytes => Impressions is null ? 0 : Math.Max(0, Impressions.TailAddress - Impressions.CommittedUntilAddress);

    /// <summary>
    /// Checkpoints the stores and commits the logs (shutdown, and after bulk loads), each waiting at most
    /// <paramref name="timeout"/>; false (and a line on stderr naming it) if one did not finish in time.
    /// </summary>
    public bool Checkpoint(TimeSpan timeout)
    {
        var ok = true;
        ok &= Step("models checkpoint", () => Models?.TryCheckpoint(timeout) ?? true);
        ok &= Step("profiles checkpoint", () => Profiles?.TryCheckpoint(timeout) ?? true);
        ok &= Step("impression log commit", () => Impressions?.TryCommit(timeout) ?? true);
        ok &= Step("reward log commit", () => Rewards?.TryCommit(timeout) ?? true);
        return ok;

        static bool Step(string what, Func<bool> step)
        {
            try
            {
                if (step())
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

    public void Dispose()
    {
        Health?.Dispose();
        Checkpoint(TimeSpan.FromSeconds(Options.ShutdownTimeoutSeconds / 4));
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
            Console.WriteLine($"edgeselector: {message}");
        }
    }
}
