using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Selection;
using EdgeSelector.Protocol;
using EdgeSelector.Storage.Health;

namespace EdgeSelector.Server.Configuration;

/// <summary>
/// The server's configuration section <c>EdgeSelector</c> (appsettings.json, <c>EdgeSelector__Key</c> environment
/// variables, <c>--EdgeSelector:Key=value</c> arguments). Every public settable property is a key: <c>--help</c> lists
/// them with their defaults (<see cref="ConfigurationKeys"/>) and docs/operations.md explains each.
/// </summary>
public sealed class EdgeSelectorOptions
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "EdgeSelector";

    /// <summary>Address both listeners bind to (127.0.0.1 by default; 0.0.0.0 to serve a network).</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>TCP port of the binary protocol.</summary>
    public int BinaryPort { get; set; } = 7400;

    /// <summary>TCP port of the RESP front door (docs/resp.md); 0 = off.</summary>
    public int RespPort { get; set; }

    /// <summary>HTTP port of the admin API.</summary>
    public int AdminPort { get; set; } = 7401;

    /// <summary>Directory of the stores, logs and checkpoints.</summary>
    public string DataDir { get; set; } = "./data";

    /// <summary>Bearer token required by the admin API (all but health and metrics). Empty = admin calls are refused.</summary>
    public string AdminToken { get; set; } = string.Empty;

    /// <summary>Key that bundles must be signed with (HMAC-SHA256), as text. Empty = every bundle is refused.</summary>
    public string BundleKey { get; set; } = string.Empty;

    /// <summary>
    /// The secret every event tag is keyed with (docs/protocol.md, "Event ids and tags"), as text of at least 16 bytes.
    /// Pass it in the environment (<c>EdgeSelector__EventKey</c>) or appsettings, not on the command line. Every node of
    /// a fleet must share it. Empty, with no <see cref="EventKeyFile"/>: the node creates a random one in its data
    /// directory (<c>event-tag.key</c>) and says so at start.
    /// </summary>
    public string EventKey { get; set; } = string.Empty;

    /// <summary>A file holding the event-tag secret (trailing whitespace ignored; at least 16 bytes); instead of <see cref="EventKey"/>.</summary>
    public string EventKeyFile { get; set; } = string.Empty;

    /// <summary>Seed the demo catalog and profiles into an empty store.</summary>
    public bool Demo { get; set; }

    /// <summary>Seed a synthetic catalog of this many titles into an empty store (0 = off); load tests (docs/performance.md).</summary>
    public int SyntheticTitles { get; set; }

    /// <summary>Images per synthetic title.</summary>
    public int SyntheticImages { get; set; } = 32;

    /// <summary>Synthetic member profiles 1..N seeded with the synthetic catalog.</summary>
    public int SyntheticMembers { get; set; } = 100_000;

    /// <summary>Id of the first synthetic title; the others follow consecutively.</summary>
    public int SyntheticFirstTitleId { get; set; } = 1;

    /// <summary>Node id (0-4095): the top 12 bits of every event id this node issues.</summary>
    public int NodeId { get; set; }

    /// <summary>Exploration policy: Greedy, EpsilonGreedy, Softmax, Thompson, Ucb or Uniform.</summary>
    public PolicyKind Policy { get; set; } = PolicyKind.EpsilonGreedy;

    /// <summary>ε of ε-greedy.</summary>
    public float Epsilon { get; set; } = 0.1f;

    /// <summary>Softmax temperature.</summary>
    public float Temperature { get; set; } = 0.05f;

    /// <summary>UCB's α.</summary>
    public float UcbAlpha { get; set; } = 1f;

    /// <summary>Seed of the sticky randomisation (all nodes of a fleet must share it).</summary>
    public ulong Seed { get; set; } = 0x0EDC_5E1E_C7A5_7000;

    /// <summary>Stickiness window in hours.</summary>
    public double StickinessHours { get; set; } = 24;

    /// <summary>Per-page deadline in milliseconds: titles of a page not decided by then get their default image.</summary>
    public double DeadlineMs { get; set; } = 5;

    /// <summary>
    /// Overload shedding by age at arrival (docs/performance.md, "Overload"): a request older than this when its turn
    /// comes, counted from when the server read its bytes (or from its <c>timestamp_ms</c> with
    /// <see cref="ShedByClientTimestamp"/>), is answered with the default image and reason "overload" without scoring.
    /// </summary>
    public double MaxQueueDelayMs { get; set; } = 50;

    /// <summary>
    /// Also count a request's age from its context's <c>timestamp_ms</c> when that lies within the last minute: for
    /// clients that stamp each request with its send time and share the node's clock (NTP), so time spent queued
    /// before the server could read the request (the client's own queue, socket buffers) counts too. Off by default:
    /// a client whose timestamp is the member's page-view time, or whose clock is behind, would be shed.
    /// </summary>
    public bool ShedByClientTimestamp { get; set; }

    /// <summary>Largest frame in bytes.</summary>
    public int MaxFrameBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Longest RESP command in bytes, all arguments included (docs/resp.md#limits); a longer one is answered
    /// <c>-ERR command too large</c> and skipped, the connection stays. 4 KiB to 1 MiB (the transport's read buffer).
    /// </summary>
    public int RespMaxCommandBytes { get; set; } = Protocol.Resp.RespCommandReader.DefaultMaxCommandBytes;

    /// <summary>Most titles in one SELECT_PAGE (the protocol's default, docs/protocol.md#limits).</summary>
    public int MaxTitlesPerPage { get; set; } = 256;

    /// <summary>Most requests answered on one connection before the server waits for the client to read (flush).</summary>
    public int MaxInFlightPerConnection { get; set; } = 4096;

    /// <summary>
    /// Connection budget of the binary port: more concurrent connections on that port are answered
    /// <c>TooManyConnections</c> and closed. Each TCP port has its own budget (docs/protocol.md#limits).
    /// </summary>
    public int MaxConnections { get; set; } = 10_000;

    /// <summary>Connection budget of the RESP port; 0 = the same number as <see cref="MaxConnections"/> (a budget of its own).</summary>
    public int RespMaxConnections { get; set; }

    /// <summary>A connection on which no whole request (frame or RESP command) arrives for this long is closed.</summary>
    public double IdleTimeoutSeconds { get; set; } = 120;

    /// <summary>
    /// Once the first byte of a request has arrived, the whole request must arrive within this many seconds, or the
    /// connection is closed (a client trickling bytes cannot hold a connection).
    /// </summary>
    public double FrameTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// How long an accepted REWARD waits for the reward log's group commit before it is answered ERROR
    /// <c>Unavailable</c> instead (retry) when the log cannot make it durable.
    /// </summary>
    public double RewardCommitTimeoutSeconds { get; set; } = 5;

    /// <summary>Memory budget of the model store in MB (all kept bundles must fit: models are served from memory).</summary>
    public int ModelMemoryMB { get; set; } = 256;

    /// <summary>Memory budget of the profile store in MB; profiles beyond it spill to disk.</summary>
    public int ProfileMemoryMB { get; set; } = 512;

    /// <summary>Memory budget of the impression log's in-memory tail in MB.</summary>
    public int ImpressionLogMemoryMB { get; set; } = 64;

    /// <summary>
    /// Size of the impression log's appender ring in MB (0..1024; 0: none). Serving threads copy each page's entry into
    /// it and one appender thread appends to the log, so FasterLog's work never runs (and allocates) on a serving
    /// thread; a page that finds the ring full is dropped and counted. 0 appends on the serving threads (as before #12).
    /// </summary>
    public int ImpressionLogRingMB { get; set; } = 4;

    /// <summary>Group commit interval of the impression log in milliseconds.</summary>
    public double LogCommitIntervalMs { get; set; } = 5;

    /// <summary>
    /// Attribution window in hours: a reward for an event issued longer ago is answered "unknown_event" and not
    /// logged. Keep it at least the trainer's <c>--window-hours</c> (docs/learning.md).
    /// </summary>
    public double AttributionWindowHours { get; set; } = 24;

    /// <summary>
    /// Rotation of the impression and reward logs: each keeps about this many MB of its newest records and drops whole
    /// 256 MB segments below that (0 = keep everything). Size it for the trainer's cadence (docs/learning.md).
    /// </summary>
    public long LogRetentionMB { get; set; } = 16_384;

    /// <summary>Whether every decision is appended to the impression log.</summary>
    public bool LogImpressions { get; set; } = true;

    /// <summary>Profile checkpoint interval in seconds (0 = only on shutdown and on bulk loads).</summary>
    public double ProfileCheckpointSeconds { get; set; } = 300;

    /// <summary>
    /// Profile log growth in MB after which a periodic, import or fleet checkpoint writes the profile hash index too;
    /// below it they write the log only. Bounds the log replayed at restart (docs/storage.md); 0 = every one full.
    /// </summary>
    public int ProfileIndexCheckpointMB { get; set; } = 256;

    /// <summary>
    /// The thread pool's minimum worker and I/O threads (0: the runtime's default, one per core). Checkpoints and
    /// admin writes used to wait for the disk on pool threads. With the runtime's floor on a node pinned to one core, a
    /// few such waits starved the pool while it added a thread about every half second, and the socket work queued
    /// behind them stalled serving for seconds. Those waits are awaited now, but FASTER's checkpoint still needs pool
    /// threads, and no measurement yet shows the floor can go (docs/performance.md, "Thread-pool floor"). Threads below
    /// the floor are created only when work is queued.
    /// </summary>
    public int MinThreadPoolThreads { get; set; } = 16;

    /// <summary>
    /// Kestrel's UnsafePreferInlineScheduling: run connection handlers on the socket I/O thread. Faster (measured in
    /// docs/performance.md); safe because the handler never blocks except on a profile read from disk.
    /// </summary>
    public bool InlineScheduling { get; set; }

    /// <summary>
    /// Page policy (#16, docs/learning.md section 8.2): score penalty per image tag an image shares with the images
    /// already chosen for the same page, applied before the policy explores so each title's logged propensity stays
    /// its exact probability given the page so far. 0 = off (default).
    /// </summary>
    public float PageDiversityPenalty { get; set; }

    /// <summary>Largest admin request body in MB (model bundles).</summary>
    public int MaxAdminBodyMB { get; set; } = 512;

    /// <summary>
    /// Size of the model store's hash index in MB (power of two; 64-byte buckets of 7 titles). Every checkpoint writes
    /// it whole, and two verified checkpoints are kept: the data volume needs about three times this (docs/reliability.md).
    /// </summary>
    public int ModelIndexMB { get; set; } = 16;

    /// <summary>Size of the profile store's hash index in MB (power of two); about 16 bytes per member. Disk: as for ModelIndexMB.</summary>
    public int ProfileIndexMB { get; set; } = 64;

    /// <summary>
    /// What the node does when a store's files are damaged at start-up (docs/reliability.md): Quarantine (move them
    /// aside, start from the last good state, report "degraded") or Refuse (exit with code 3 naming the file).
    /// </summary>
    public DamagePolicy OnDamage { get; set; } = DamagePolicy.Quarantine;

    /// <summary>
    /// How long an admin write (push, rollback, profile import) waits to become durable before it is answered 503
    /// (retry): the disk is then full or failing, and the write takes effect only once durable.
    /// </summary>
    public double StoreWriteTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// Bound on shutdown after SIGTERM: connections get a third of it to finish, the stores the rest to checkpoint and
    /// close; after it the process exits anyway (code 4), keeping what was durable, as after a crash.
    /// </summary>
    public double ShutdownTimeoutSeconds { get; set; } = 15;

    /// <summary>Safe rollout of candidate bundles, section <c>EdgeSelector:Rollout</c> (docs/rollout.md; issue 15).</summary>
    public Rollout.RolloutOptions Rollout { get; set; } = new();

    /// <summary>The selection engine's options.</summary>
    public SelectionOptions ToSelectionOptions() => new SelectionOptions
    {
        Policy = Policy,
        Epsilon = Epsilon,
        Temperature = Temperature,
        UcbAlpha = UcbAlpha,
        Seed = Seed,
        StickinessWindow = TimeSpan.FromHours(StickinessHours),
    }.Validate();

    /// <summary>The protocol limits.</summary>
    public ProtocolOptions ToProtocolOptions() => new() { MaxFrameSize = MaxFrameBytes, MaxTitlesPerPage = MaxTitlesPerPage };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad key (checked once at start-up).</summary>
    public EdgeSelectorOptions Validate()
    {
        Check(System.Net.IPAddress.TryParse(BindAddress, out _), nameof(BindAddress), "must be an IP address (127.0.0.1, 0.0.0.0, ::1, ::)");
        Check(BinaryPort is > 0 and < 65536, nameof(BinaryPort), "must be a TCP port");
        Check(AdminPort is > 0 and < 65536 && AdminPort != BinaryPort, nameof(AdminPort), "must be a TCP port other than BinaryPort");
        Check(RespPort == 0 || (RespPort is > 0 and < 65536 && RespPort != BinaryPort && RespPort != AdminPort), nameof(RespPort), "must be 0 (off) or a TCP port other than BinaryPort and AdminPort");
        Check(NodeId is >= 0 and < 4096, nameof(NodeId), "must be in 0..4095");
        Check(StickinessHours > 0, nameof(StickinessHours), "must be positive");
        Check(AttributionWindowHours > 0, nameof(AttributionWindowHours), "must be positive");
        Check(LogRetentionMB >= 0, nameof(LogRetentionMB), "must be 0 (keep everything) or positive");
        Check(DeadlineMs > 0, nameof(DeadlineMs), "must be positive");
        Check(MaxQueueDelayMs > 0, nameof(MaxQueueDelayMs), "must be positive");
        Check(MaxFrameBytes is >= ProtocolOptions.MinMaxFrameSize and <= ProtocolOptions.MaxMaxFrameSize, nameof(MaxFrameBytes), $"must be in {ProtocolOptions.MinMaxFrameSize}..{ProtocolOptions.MaxMaxFrameSize}");
        Check(MaxTitlesPerPage is >= 1 and <= 10_000, nameof(MaxTitlesPerPage), "must be in 1..10000");
        Check(RespMaxCommandBytes is >= 4096 and <= 1 << 20, nameof(RespMaxCommandBytes), "must be in 4096..1048576");
        Check(MaxInFlightPerConnection >= 1, nameof(MaxInFlightPerConnection), "must be at least 1");
        Check(MaxConnections >= 1, nameof(MaxConnections), "must be at least 1");
        Check(RespMaxConnections >= 0, nameof(RespMaxConnections), "must be 0 (same as MaxConnections) or positive");
        Check(IdleTimeoutSeconds > 0, nameof(IdleTimeoutSeconds), "must be positive");
        Check(FrameTimeoutSeconds > 0, nameof(FrameTimeoutSeconds), "must be positive");
        Check(RewardCommitTimeoutSeconds > 0, nameof(RewardCommitTimeoutSeconds), "must be positive");
        Check(ModelMemoryMB >= 8 && ProfileMemoryMB >= 16 && ImpressionLogMemoryMB >= 4, "memory budgets", "are too small (models at least 8 MB: two 4 MB pages; profiles at least 16 MB: four 4 MB pages; log at least 4 MB)");
        Check(ImpressionLogRingMB is >= 0 and <= 1024, nameof(ImpressionLogRingMB), "must be in 0..1024 (0 = no ring: appends on the serving threads)");
        Check(float.IsFinite(PageDiversityPenalty) && PageDiversityPenalty is >= 0 and <= 1, nameof(PageDiversityPenalty), "must be in 0..1 (0 = off)");
        Check(SyntheticTitles >= 0, nameof(SyntheticTitles), "must be 0 (off) or positive");
        Check(SyntheticImages is >= 1 and <= 99, nameof(SyntheticImages), "must be in 1..99");
        Check(SyntheticMembers >= 0, nameof(SyntheticMembers), "must not be negative");
        Check(SyntheticFirstTitleId >= 1 && (long)SyntheticFirstTitleId + SyntheticTitles <= 40_000_000, nameof(SyntheticFirstTitleId), "must be at least 1, with first + titles at most 40,000,000 (image ids are title*100+k)");
        Check(!string.IsNullOrWhiteSpace(DataDir), nameof(DataDir), "must be set");
        Check(ModelIndexMB >= 1 && (ModelIndexMB & (ModelIndexMB - 1)) == 0, nameof(ModelIndexMB), "must be a power of two (MB), at least 1");
        Check(ProfileIndexMB >= 1 && (ProfileIndexMB & (ProfileIndexMB - 1)) == 0, nameof(ProfileIndexMB), "must be a power of two (MB), at least 1");
        Check(MinThreadPoolThreads is >= 0 and <= 1024, nameof(MinThreadPoolThreads), "must be in 0..1024 (0 = the runtime's default)");
        Check(ProfileIndexCheckpointMB >= 0, nameof(ProfileIndexCheckpointMB), "must not be negative (0 = every profile checkpoint full)");
        Check(Enum.IsDefined(OnDamage), nameof(OnDamage), "must be Quarantine or Refuse");
        Check(StoreWriteTimeoutSeconds > 0, nameof(StoreWriteTimeoutSeconds), "must be positive");
        Check(ShutdownTimeoutSeconds >= 3, nameof(ShutdownTimeoutSeconds), "must be at least 3");
        Check(string.IsNullOrEmpty(EventKey) || string.IsNullOrEmpty(EventKeyFile), nameof(EventKeyFile), "and EventKey are both set: give the event-tag secret one way");
        Check(string.IsNullOrEmpty(EventKey) || System.Text.Encoding.UTF8.GetByteCount(EventKey) >= 16, nameof(EventKey), "must hold at least 16 bytes (32 random bytes, hex, is a good key)");
        _ = ToSelectionOptions();
        _ = ToProtocolOptions();
        Rollout.Validate(); // rollout (#15)
        return this;
    }

    private static void Check(bool ok, string key, string message)
    {
        if (!ok)
        {
            throw new ArgumentException($"EdgeSelector:{key} {message}");
        }
    }
}
