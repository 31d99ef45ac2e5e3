using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using EdgeSelector.Fleet;
using EdgeSelector.Fleet.Bundles;
using EdgeSelector.Fleet.Events;
using EdgeSelector.Fleet.Profiles;
using EdgeSelector.Fleet.Status;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Serving;
using EdgeSelector.Storage.Impressions;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;

namespace EdgeSelector.Server.Fleet;

/// <summary>What a fleet node needs from the rest of the server (explicit, so the fleet does not reach into the host).</summary>
internal sealed record FleetNodeParts(
    int NodeId,
    string DataDir,
    string AdminAddress,
    BundleService Bundles,
    ModelStore Models,
    ProfileStore Profiles,
    ImpressionLog? Impressions,
    ImpressionLog Rewards,
    Func<bool> HasBundle,
    Rollout.RolloutService Rollout);

/// <summary>
/// The node's membership of the fleet (docs/fleet.md): one hosted service running the bundle follower, the profile
/// follower, one event shipper per log, the heartbeat and the dashboard's view of the other nodes' heartbeats
/// (<see cref="View"/>), each on its own task, none on the serving path. NATS being
/// away never stops serving: the followers retry, the shippers keep the backlog in the local logs.
/// </summary>
internal sealed class FleetNode : BackgroundService
{
    private readonly NatsOptions _options;
    private readonly FleetNodeParts _parts;
    private readonly ILogger _logger;
    private readonly FleetConnection _connection;
    private readonly BundleFollower _bundles;
    private readonly CandidateFollower _candidates;
    private readonly ProfileFollower _profiles;
    private readonly List<EventShipper> _shippers = [];
    private readonly StatusChannel _status;
    private readonly string _instance;
    private readonly long _startedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    private readonly long _startedTimestamp = Stopwatch.GetTimestamp();
    private volatile bool _timedOut;

    /// <summary>How long persisting the profile position waits for the profile store's checkpoint.</summary>
    private static readonly TimeSpan ProfileCheckpointTimeout = TimeSpan.FromSeconds(30);

    public FleetNode(NatsOptions options, FleetNodeParts parts, ILoggerFactory loggers)
    {
        _options = options;
        _parts = parts;
        _logger = loggers.CreateLogger("EdgeSelector.Fleet");
        _instance = string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}-{Environment.ProcessId}-{RandomNumberGenerator.GetHexString(4, lowercase: true)}");
        _connection = FleetConnection.Create(options.Url, $"edgeselector-node-{parts.NodeId}", TimeSpan.FromSeconds(10), options.Security());
        _bundles = new BundleFollower(_connection, (pointer, bytes) => FleetAppliers.ApplyBundleAsync(parts.Bundles, pointer, bytes), () => parts.Models.Version, _logger);
        _candidates = new CandidateFollower(_connection, () => parts.Rollout.Current?.Version ?? 0, (pointer, bytes) => FleetAppliers.ApplyCandidateAsync(parts.Rollout, pointer, bytes), _logger);
        var fleetDir = Path.Combine(parts.DataDir, "fleet");
        Directory.CreateDirectory(fleetDir);
        _profiles = new ProfileFollower(
            _connection,
            Path.Combine(fleetDir, "profiles.position"),
            (ReadOnlySpan<byte> json, out int count) => FleetAppliers.ApplyProfiles(parts.Profiles, json, out count),
            // Bounded: on a full or failing disk the checkpoint throws instead of holding the follower, and the position
            // is not persisted (it may only name what is durable); a restart replays from the last persisted one. The log
            // only, over the last index checkpoint, as the periodic checkpoint: a full one every ProfilePersistSeconds
            // rewrote the whole index each time (docs/performance.md).
            async () =>
            {
                if (!await parts.Profiles.TryCheckpointLogAsync(ProfileCheckpointTimeout).ConfigureAwait(false))
                {
                    throw new IOException($"profiles: checkpoint not durable within {ProfileCheckpointTimeout.TotalSeconds} s (disk full or failing)");
                }
            },
            TimeSpan.FromSeconds(options.ProfilePersistSeconds),
            _logger);
        var logId = LogId(fleetDir, parts.NodeId);
        var shipping = new EventShipperOptions
        {
            BatchBytes = options.ShipBatchKB * 1024,
            Linger = TimeSpan.FromMilliseconds(options.ShipLingerMs),
        };
        if (parts.Impressions is { } impressions)
        {
            _shippers.Add(new EventShipper(_connection, impressions, EventKind.Impressions, parts.NodeId, logId, shipping, _logger));
        }

        _shippers.Add(new EventShipper(_connection, parts.Rewards, EventKind.Rewards, parts.NodeId, logId, shipping, _logger));
        _status = new StatusChannel(_connection);
        View = new FleetView(_connection, parts.NodeId, TimeSpan.FromSeconds(options.HeartbeatSeconds), () => _bundles.Pointer, _logger);
    }

    /// <summary>The fleet as the dashboard shows it: every node's last heartbeat, kept current by a watch (docs/dashboard.md).</summary>
    public FleetView View { get; }

    /// <summary>
    /// Whether the node may report ready as far as the fleet is concerned; <paramref name="why"/> says what it waits for.
    /// </summary>
    public bool IsCaughtUp(out string why)
    {
        why = string.Empty;
        if (!_options.CatchUpBeforeReady)
        {
            return true;
        }

        if (_bundles.CaughtUp && _profiles.CaughtUp)
        {
            return true;
        }

        if (_options.CatchUpTimeoutSeconds > 0 && _parts.HasBundle()
            && Stopwatch.GetElapsedTime(_startedTimestamp).TotalSeconds >= _options.CatchUpTimeoutSeconds)
        {
            if (!_timedOut)
            {
                _timedOut = true;
                _logger.LogWarning("fleet: not caught up after {Seconds} s ({Why}); serving the local checkpoint (bundle {Version})", _options.CatchUpTimeoutSeconds, Waiting(), _parts.Models.Version);
            }

            return true;
        }

        why = Waiting();
        return false;
    }

    /// <summary>Writes the fleet's series after the node's (GET /metrics, docs/fleet.md).</summary>
    public void WriteMetrics(PrometheusWriter w)
    {
        w.Single("edgeselector_fleet_caught_up", MetricType.Gauge, "1 once the node has handled the current bundle pointer and replayed the profile stream.", _bundles.CaughtUp && _profiles.CaughtUp ? 1 : 0);
        w.Single("edgeselector_fleet_connected", MetricType.Gauge, "1 while the NATS connection is open.", _connection.Nats.ConnectionState == NATS.Client.Core.NatsConnectionState.Open ? 1 : 0);
        w.Single("edgeselector_fleet_bundle_pointer_version", MetricType.Gauge, "Version the fleet's bundle pointer names (compare with edgeselector_model_bundle_version).", _bundles.PointerVersion);
        w.Family("edgeselector_fleet_bundles_refused_total", MetricType.Counter, "Bundles from the pointer this node refused, by reason (it keeps serving its version).");
        foreach (var reason in new[] { "digest", "signature", "model", "version", "refused" })
        {
            w.Sample("edgeselector_fleet_bundles_refused_total", "reason", reason, _bundles.Refusals.GetValueOrDefault(reason));
        }

        w.Single("edgeselector_fleet_profile_position", MetricType.Gauge, "Last profile-stream sequence applied to the profile store.", _profiles.Position);
        w.Family("edgeselector_fleet_profile_batches_total", MetricType.Counter, "Profile batches from the stream, applied or refused (did not parse).");
        w.Sample("edgeselector_fleet_profile_batches_total", "result", "applied", _profiles.AppliedBatches);
        w.Sample("edgeselector_fleet_profile_batches_total", "result", "refused", _profiles.RejectedBatches);
        PerLog(w, "edgeselector_fleet_shipping_lag_bytes", MetricType.Gauge, "Committed log bytes not yet acknowledged by JetStream.", s => s.LagBytes);
        PerLog(w, "edgeselector_fleet_shipped_entries_total", MetricType.Counter, "Log entries acknowledged by JetStream.", s => s.Entries);
        PerLog(w, "edgeselector_fleet_shipped_messages_total", MetricType.Counter, "Packed messages acknowledged by JetStream.", s => s.Messages);
        PerLog(w, "edgeselector_fleet_shipped_bytes_total", MetricType.Counter, "Packed payload bytes acknowledged by JetStream.", s => s.Bytes);
        PerLog(w, "edgeselector_fleet_ship_failures_total", MetricType.Counter, "Publish attempts that failed and were retried.", s => s.Failures);
        PerLog(w, "edgeselector_fleet_unshipped_rotated_bytes_total", MetricType.Counter, "Committed bytes rotated away (LogRetentionMB) before they were shipped: lost to the trainer.", s => s.RotatedAwayBytes);
    }

    public override void Dispose()
    {
        foreach (var s in _shippers)
        {
            s.Dispose();
        }

        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _logger.LogInformation("fleet: node {NodeId} ({Instance}) joining the fleet at {Url}", _parts.NodeId, _instance, _options.Url);
        var tasks = new List<Task>
        {
            Guard("bundle follower", () => _bundles.RunAsync(stoppingToken), stoppingToken),
            Guard("candidate follower", () => _candidates.RunAsync(stoppingToken), stoppingToken),
            Guard("profile follower", () => _profiles.RunAsync(stoppingToken), stoppingToken),
            Guard("heartbeat", () => HeartbeatAsync(stoppingToken), stoppingToken),
            Guard("dashboard's fleet view", () => View.RunAsync(stoppingToken), stoppingToken),
        };
        tasks.AddRange(_shippers.Select(s => Guard($"{Name(s.Kind)} shipper", () => s.RunAsync(stoppingToken), stoppingToken)));
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown.
        }

        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    // A loop that fails unexpectedly (a FASTER scan racing a rotation, a bug) is logged and restarted: a fault in the
    // fleet's background work must never stop the host (BackgroundService's default) or the serving with it.
    private Task Guard(string what, Func<Task> loop, CancellationToken stoppingToken) => Task.Run(async () =>
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await loop().ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Logged and restarted: see above.
            catch (Exception e)
#pragma warning restore CA1031
            {
                _logger.LogError(e, "fleet: the {What} failed; restarting it in 1 s", what);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }, stoppingToken);

    private async Task HeartbeatAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(_options.HeartbeatSeconds);
        var checkedDuplicates = false;
        string? lastError = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!checkedDuplicates)
                {
                    var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                    foreach (var other in await _status.ListAsync(stoppingToken).ConfigureAwait(false))
                    {
                        if (other.NodeId == _parts.NodeId && other.Instance != _instance && now - other.HeartbeatAtMs < 3 * interval.TotalMilliseconds)
                        {
                            _logger.LogError("fleet: another live node uses NodeId {NodeId} ({Other}); event ids may collide: give every node its own EdgeSelector:NodeId", _parts.NodeId, other.Instance);
                        }
                    }

                    checkedDuplicates = true;
                }

                await _status.PutAsync(Snapshot(), stoppingToken).ConfigureAwait(false);
                lastError = null;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is NATS.Client.Core.NatsException or FleetException or TimeoutException or OperationCanceledException)
            {
                if (lastError != e.Message)
                {
                    _logger.LogWarning("fleet: heartbeat failed ({Error}); retrying", e.Message);
                }

                lastError = e.Message;
            }

            try
            {
                await Task.Delay(interval, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private NodeStatus Snapshot() => new()
    {
        NodeId = _parts.NodeId,
        Instance = _instance,
        Admin = _parts.AdminAddress,
        StartedAtMs = _startedAtMs,
        HeartbeatAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        HeartbeatIntervalMs = (long)(_options.HeartbeatSeconds * 1000),
        Ready = _parts.HasBundle() && IsCaughtUp(out _),
        AppliedVersion = _parts.Models.Version,
        PointerVersion = _bundles.PointerVersion,
        BundleError = _bundles.LastError,
        ProfilePosition = _profiles.Position,
        ImpressionLagBytes = _shippers.FirstOrDefault(s => s.Kind == EventKind.Impressions)?.LagBytes ?? 0,
        RewardLagBytes = _shippers.FirstOrDefault(s => s.Kind == EventKind.Rewards)?.LagBytes ?? 0,
        ShippingError = _shippers.Select(s => s.LastError).FirstOrDefault(e => e is not null),
    };

    private string Waiting() =>
        !_bundles.CaughtUp
            ? $"catching up: bundle pointer not handled yet ({_bundles.LastError ?? "waiting for NATS"})"
            : $"catching up: profiles at sequence {_profiles.Position} ({_profiles.LastError ?? "replaying"})";

    private static string Name(EventKind kind) => kind == EventKind.Impressions ? "impressions" : "rewards";

    // Names this data directory's logs in message ids, so a node rebuilt on an empty disk (addresses start again) is
    // never taken for a retry of its former self by JetStream's de-duplication.
    private static string LogId(string fleetDir, int nodeId)
    {
        var path = Path.Combine(fleetDir, "log-id");
        if (!File.Exists(path))
        {
            File.WriteAllText(path + ".tmp", string.Create(CultureInfo.InvariantCulture, $"{nodeId}-{RandomNumberGenerator.GetHexString(8, lowercase: true)}"));
            File.Move(path + ".tmp", path, overwrite: true);
        }

        return File.ReadAllText(path).Trim();
    }

    private void PerLog(PrometheusWriter w, string name, MetricType type, string help, Func<EventShipper, double> value)
    {
        w.Family(name, type, help);
        foreach (var s in _shippers)
        {
            w.Sample(name, "log", Name(s.Kind), value(s));
        }
    }
}
