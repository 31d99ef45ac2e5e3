using EdgeSelector.Storage.Health;

namespace EdgeSelector.Storage.Profiles;

/// <summary>Configuration of a <see cref="ProfileStore"/>; validated by <see cref="ProfileStore.Open"/>.</summary>
public sealed record ProfileStoreOptions
{
    /// <summary>Directory holding the profile log segments and checkpoints (created if missing).</summary>
    public required string DataDirectory { get; init; }

    /// <summary>
    /// In-memory budget of the hybrid log in bytes (rounded down to a power of two). Profiles beyond it live in the
    /// on-disk log segments and are read with an I/O. A record is 88 bytes (8 header + 8 key + 72 profile).
    /// </summary>
    public long MemoryBytes { get; init; } = 1L << 30;

    /// <summary>Log page size in bytes (power of two); the unit of I/O when pages are flushed or evicted.</summary>
    public long PageBytes { get; init; } = 1L << 22;

    /// <summary>Size of each on-disk log segment file in bytes (power of two, at least one page).</summary>
    public long SegmentBytes { get; init; } = 1L << 30;

    /// <summary>
    /// Size of FASTER's hash index in bytes (64-byte buckets of 7 entries, always in memory). About 16 bytes per
    /// member keeps chains short: 2 GB for 100M members.
    /// </summary>
    public long IndexBytes { get; init; } = 64L << 20;

    /// <summary>Idle sessions kept in the pool; extra sessions are created and disposed on demand.</summary>
    public int SessionPoolSize { get; init; } = Math.Max(4, Environment.ProcessorCount * 2);

    /// <summary>
    /// Take a checkpoint this often in the background while profiles were written since the last one; null turns
    /// periodic checkpoints off. It writes the hybrid log only, over the last index checkpoint (see
    /// <see cref="IndexCheckpointLogBytes"/>).
    /// </summary>
    public TimeSpan? CheckpointInterval { get; init; }

    /// <summary>
    /// Log growth in bytes after which a periodic or import checkpoint writes the hash index too (a full checkpoint);
    /// below it they write only the log pages appended since the last checkpoint. Recovery loads the last index
    /// checkpoint and replays the log from where it started, so this bounds that replay (about 3M profile writes at the
    /// default, 88 bytes each) while the index (<see cref="IndexBytes"/>, written whole each time, which stalls a
    /// one-core node: docs/performance.md) is written at most once per that much profile churn. 0: every checkpoint
    /// is full. Explicit checkpoints (<see cref="ProfileStore.Checkpoint"/>, shutdown) are always full.
    /// </summary>
    public long IndexCheckpointLogBytes { get; init; } = 256L << 20;

    /// <summary>The store's name in messages and health reports.</summary>
    public string Name { get; init; } = "profiles";

    /// <summary>What to do when no checkpoint can be verified at open (docs/reliability.md); default: move the files aside and start empty.</summary>
    public DamagePolicy OnDamage { get; init; } = DamagePolicy.Quarantine;

    /// <summary>How long <see cref="ProfileStore.Dispose"/> waits for a checkpoint still running before giving up on the disk.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Fault injection for tests (writes fail while set); null in production.</summary>
    public StorageFaults? Faults { get; init; }
}
