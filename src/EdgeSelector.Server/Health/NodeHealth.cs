using EdgeSelector.Server.Metrics;
using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Impressions;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;

namespace EdgeSelector.Server.Health;

/// <summary>One reason the node is not ready or degraded (docs/reliability.md lists them).</summary>
/// <param name="Component">What it concerns: "models", "profiles", "impressions", "rewards", "disk", "startup".</param>
/// <param name="BlocksReadiness">True: /readyz answers 503 while it holds. False: /healthz says "degraded".</param>
/// <param name="Reason">One line for a person.</param>
internal sealed record HealthCondition(string Component, bool BlocksReadiness, string Reason);

/// <summary>The node's health at one moment.</summary>
internal sealed record HealthSnapshot(IReadOnlyList<HealthCondition> Conditions)
{
    /// <summary>Ready to take traffic: no condition blocks readiness.</summary>
    public bool Ready => !Conditions.Any(c => c.BlocksReadiness);

    /// <summary>"ok", "degraded" (ready, with conditions) or "not_ready".</summary>
    public string Status => !Ready ? "not_ready" : Conditions.Count > 0 ? "degraded" : "ok";
}

/// <summary>
/// The node's readiness and health, from the stores' own state (no I/O except a statvfs of the data volume): what
/// blocks readiness (no bundle, a store whose writes fail, a log whose commit fails) and what only degrades it (damage
/// found at start-up and moved aside, a low disk, a profile checkpoint still waiting). A type of its own that the host
/// composes from the stores; <see cref="Monitor"/> logs every change of state so a full disk is in the log too.
/// </summary>
internal sealed class NodeHealth : IDisposable
{
    private readonly ModelStore _models;
    private readonly ProfileStore _profiles;
    private readonly ImpressionLog? _impressions;
    private readonly ImpressionLog _rewards;
    private readonly string _dataDir;
    private readonly long _lowDiskBytes;
    private readonly List<HealthCondition> _startup = [];
    private readonly List<Func<HealthCondition?>> _probes = [];
    private readonly Lock _lock = new();
    private Timer? _monitor;
    private string _lastLogged = "ok";

    /// <summary>
    /// Watches the given stores; below <paramref name="lowDiskBytes"/> free on the data volume (the room the next
    /// checkpoints need) the node is degraded, and below <see cref="DiskSpace.FullThresholdBytes"/> not ready.
    /// </summary>
    public NodeHealth(ModelStore models, ProfileStore profiles, ImpressionLog? impressions, ImpressionLog rewards, string dataDir, long lowDiskBytes)
    {
        _lowDiskBytes = lowDiskBytes;
        _models = models;
        _profiles = profiles;
        _impressions = impressions;
        _rewards = rewards;
        _dataDir = dataDir;
    }

    /// <summary>Records damage found at start-up (sticky until the process restarts: damage is never silent).</summary>
    public void StartupDamage(string component, string reason)
    {
        lock (_lock)
        {
            _startup.Add(new HealthCondition(component, BlocksReadiness: false, reason));
        }
    }

    /// <summary>Adds a condition another part of the node owns (the fleet: "not caught up"), evaluated with the others.</summary>
    public void AddProbe(Func<HealthCondition?> probe)
    {
        lock (_lock)
        {
            _probes.Add(probe);
        }
    }

    /// <summary>The conditions holding now.</summary>
    public HealthSnapshot Evaluate()
    {
        var conditions = new List<HealthCondition>();
        if (_models.TitleCount == 0)
        {
            conditions.Add(new("models", true, "no model bundle loaded"));
        }

        Store(conditions, "models", _models.Health);
        Store(conditions, "profiles", _profiles.Health);
        if (_impressions is not null)
        {
            Log(conditions, _impressions);
        }

        Log(conditions, _rewards);
        if (_models.PendingWrite is { } pending && !_models.Health.IsWriteStalled)
        {
            conditions.Add(new("models", false, $"the {pending} is still waiting for its checkpoint"));
        }

        if (_profiles.IsCheckpointPending && !_profiles.Health.IsWriteStalled)
        {
            conditions.Add(new("profiles", false, "a checkpoint is still waiting for the disk"));
        }

        if (_profiles.LastCheckpointFailure is { } failure)
        {
            conditions.Add(new("profiles", false, $"the last periodic checkpoint failed: {failure.Message}"));
        }

        if (!_models.IsFullyInMemory)
        {
            conditions.Add(new("models", false, "the kept bundles do not fit in ModelMemoryMB: some model reads go to disk"));
        }

        if (DiskSpace.AvailableBytes(_dataDir) is { } free && free < _lowDiskBytes)
        {
            conditions.Add(new("disk", free < DiskSpace.FullThresholdBytes, $"{free >> 20} MB free on the data volume ({_dataDir}); the next checkpoints need about {_lowDiskBytes >> 20} MB"));
        }

        lock (_lock)
        {
            conditions.AddRange(_startup);
            foreach (var probe in _probes)
            {
                if (probe() is { } condition)
                {
                    conditions.Add(condition);
                }
            }
        }

        return new HealthSnapshot(conditions);
    }

    /// <summary>Evaluates every <paramref name="interval"/> and writes a line to stderr whenever the state changes.</summary>
    public void Monitor(TimeSpan interval)
    {
        _monitor = new Timer(static state => ((NodeHealth)state!).LogIfChanged(), this, interval, interval);
    }

    /// <summary>The storage gauges for /metrics (Prometheus text): log lags, stalls, write failures, readiness.</summary>
    public void WriteMetrics(PrometheusWriter w)
    {
        w.Single("edgeselector_reward_log_lag_bytes", MetricType.Gauge, "Bytes appended to the reward log but not yet committed to disk (a REWARD is answered once its bytes are committed).", _rewards.LagBytes);
        w.Family("edgeselector_log_commit_healthy", MetricType.Gauge, "1 while a log's commits succeed, 0 while its writes fail (disk full or failing) or its last commit failed.");
        if (_impressions is not null)
        {
            w.Sample("edgeselector_log_commit_healthy", "log", "impressions", _impressions.IsHealthy ? 1 : 0);
        }

        w.Sample("edgeselector_log_commit_healthy", "log", "rewards", _rewards.IsHealthy ? 1 : 0);
        w.Family("edgeselector_log_commit_duration_seconds", MetricType.Histogram, "Time a log's group commit took from its start until it was durable (the disk's flush included); a REWARD is answered after the commit that holds it.");
        Span<long> counts = stackalloc long[CommitDurations.BoundsSeconds.Length + 1];
        if (_impressions is not null)
        {
            WriteCommitDurations(w, "impressions", _impressions.CommitDurations, counts);
        }

        WriteCommitDurations(w, "rewards", _rewards.CommitDurations, counts);
        w.Family("edgeselector_log_commit_duration_max_seconds", MetricType.Gauge, "The longest group commit of each log since the process started.");
        if (_impressions is not null)
        {
            w.Sample("edgeselector_log_commit_duration_max_seconds", "log", "impressions", _impressions.CommitDurations.MaxSeconds);
        }

        w.Sample("edgeselector_log_commit_duration_max_seconds", "log", "rewards", _rewards.CommitDurations.MaxSeconds);
        w.Family("edgeselector_log_retention_held_bytes", MetricType.Gauge, "Bytes a log keeps beyond LogRetentionMB because a reader that holds retention (the fleet's shipper) has not acknowledged them.");
        if (_impressions is not null)
        {
            w.Sample("edgeselector_log_retention_held_bytes", "log", "impressions", _impressions.RetentionHeldBytes);
        }

        w.Sample("edgeselector_log_retention_held_bytes", "log", "rewards", _rewards.RetentionHeldBytes);
        if (_impressions is not null)
        {
            // The appender ring between the serving threads and the impression log (docs/storage.md#the-appender-ring).
            w.Single("edgeselector_impression_ring_capacity_bytes", MetricType.Gauge, "Bytes of the impression log's appender ring (0: no ring, serving threads append themselves).", _impressions.RingCapacityBytes);
            w.Single("edgeselector_impression_ring_depth_bytes", MetricType.Gauge, "Bytes posted to the appender ring by serving threads and not yet appended to the impression log.", _impressions.RingDepthBytes);
            w.Single("edgeselector_impression_ring_full_total", MetricType.Counter, "Pages the appender ring was too full to take, appended on the serving thread instead (dropped, and counted in edgeselector_impressions_total{result=\"dropped\"}, only if the log's memory was full too).", _impressions.RingRefused);
            w.Single("edgeselector_impression_appender_dropped_total", MetricType.Counter, "Pages the appender took from the ring but could not append (the log gave up on the disk at close, or an append failed); lost, never reported committed.", _impressions.AppenderDropped);
        }
        var devices = Devices().ToList();
        w.Family("edgeselector_store_write_stalled", MetricType.Gauge, "1 while a store's writes fail and are being retried (disk full or failing).");
        foreach (var (name, health) in devices)
        {
            w.Sample("edgeselector_store_write_stalled", "store", name, health.IsWriteStalled ? 1 : 0);
        }

        w.Family("edgeselector_store_write_failures_total", MetricType.Counter, "Failed write attempts per store (each retry counts).");
        foreach (var (name, health) in devices)
        {
            w.Sample("edgeselector_store_write_failures_total", "store", name, health.FailedWrites);
        }

        var snapshot = Evaluate();
        w.Single("edgeselector_ready", MetricType.Gauge, "1 when /readyz answers 200.", snapshot.Ready ? 1 : 0);
        w.Single("edgeselector_health_conditions", MetricType.Gauge, "Conditions holding now (/healthz lists them).", snapshot.Conditions.Count);
        w.Single("edgeselector_data_volume_free_bytes", MetricType.Gauge, "Free bytes on the data volume (-1: unknown).", DiskSpace.AvailableBytes(_dataDir) ?? -1);
    }

    public void Dispose() => _monitor?.Dispose();

    private static void WriteCommitDurations(PrometheusWriter w, string log, CommitDurations durations, Span<long> counts)
    {
        durations.CopyCounts(counts);
        w.Histogram("edgeselector_log_commit_duration_seconds", PrometheusWriter.Labels(("log", log)), CommitDurations.BoundsSeconds, counts, durations.SumSeconds);
    }

    private static void Store(List<HealthCondition> conditions, string name, DeviceHealth health)
    {
        if (health.Describe() is { } stalled)
        {
            conditions.Add(new(name, true, stalled));
        }
    }

    private static void Log(List<HealthCondition> conditions, ImpressionLog log)
    {
        if (log.Health.Describe() is { } stalled)
        {
            conditions.Add(new(log.Name, true, $"{stalled} ({log.LagBytes} bytes not yet durable)"));
        }
        else if (log.CommitFailure is { } failure)
        {
            conditions.Add(new(log.Name, true, $"commit failing: {failure.Message}"));
        }
        else if (log.AppendFailure is { } appendFailure)
        {
            conditions.Add(new(log.Name, true, $"appender failing: {appendFailure.Message}"));
        }
    }

    private IEnumerable<(string Name, DeviceHealth Health)> Devices()
    {
        yield return ("models", _models.Health);
        yield return ("profiles", _profiles.Health);
        if (_impressions is not null)
        {
            yield return (_impressions.Name, _impressions.Health);
        }

        yield return (_rewards.Name, _rewards.Health);
    }

    private void LogIfChanged()
    {
        var snapshot = Evaluate();
        var line = snapshot.Conditions.Count == 0
            ? "ok"
            : $"{snapshot.Status}: {string.Join("; ", snapshot.Conditions.Where(c => c.Component != "startup").Select(c => $"{c.Component}: {c.Reason}"))}";

        // Stall descriptions carry a running duration: compare without digits so a stall is logged once, not every tick.
        if (Normalize(line) == Normalize(_lastLogged))
        {
            return;
        }

        _lastLogged = line;
        Console.Error.WriteLine(snapshot.Status == "ok" ? "edgeselector: health: ok (recovered)" : $"edgeselector: health: {line}");
    }

    private static string Normalize(string line) => new([.. line.Where(c => !char.IsDigit(c))]);
}
