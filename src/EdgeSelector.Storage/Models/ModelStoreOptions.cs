using EdgeSelector.Storage.Health;

namespace EdgeSelector.Storage.Models;

/// <summary>Configuration of a <see cref="ModelStore"/>; validated by <see cref="ModelStore.Open"/>.</summary>
public sealed record ModelStoreOptions
{
    /// <summary>Directory holding the store's log segments and checkpoints (created if missing).</summary>
    public required string DataDirectory { get; init; }

    /// <summary>
    /// In-memory log size in bytes (rounded down to a power of two). Every read must be served from memory, so this
    /// must hold <see cref="MaxGenerations"/> + 1 whole bundles plus headroom; see docs/storage.md.
    /// </summary>
    public long MemoryBytes { get; init; } = 256L << 20;

    /// <summary>Log page size in bytes (power of two). A single model must fit in half a page.</summary>
    public long PageBytes { get; init; } = 4L << 20;

    /// <summary>Size of each log segment file on disk in bytes (power of two, at least one page).</summary>
    public long SegmentBytes { get; init; } = 256L << 20;

    /// <summary>Size of FASTER's hash index in bytes (64 bytes per bucket of 7 keys; power of two).</summary>
    public long IndexBytes { get; init; } = 16L << 20;

    /// <summary>How many bundle generations are kept for rollback, the active one included (at least 2).</summary>
    public int MaxGenerations { get; init; } = 3;

    /// <summary>
    /// The visitor types that read the store (<see cref="ModelReader.For{TVisitor}"/>): each one gets its own pool of
    /// FASTER sessions when the store opens. Reading with any other visitor type throws.
    /// </summary>
    public IReadOnlyList<ModelReader> Readers { get; init; } = [];

    /// <summary>Idle sessions kept per reader type; sessions beyond this are created and disposed on demand.</summary>
    public int SessionPoolSize { get; init; } = Math.Max(4, Environment.ProcessorCount * 2);

    /// <summary>
    /// Take a checkpoint after every bundle commit and rollback (and publish the change only once it is durable), so a
    /// restart needs no control plane. Off: changes are published at once and durable only at the next checkpoint.
    /// </summary>
    public bool CheckpointOnChange { get; init; } = true;

    /// <summary>
    /// Also checkpoint this often in the background if anything changed since the last checkpoint (useful with
    /// <see cref="CheckpointOnChange"/> off, to batch checkpoints of frequent pushes); null turns it off.
    /// </summary>
    public TimeSpan? CheckpointInterval { get; init; }

    /// <summary>The store's name in messages and health reports.</summary>
    public string Name { get; init; } = "models";

    /// <summary>What to do when no checkpoint can be verified at open (docs/reliability.md); default: move the files aside and start empty.</summary>
    public DamagePolicy OnDamage { get; init; } = DamagePolicy.Quarantine;

    /// <summary>How long <see cref="ModelStore.Dispose"/> waits for a push or checkpoint still running before giving up on the disk.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Fault injection for tests (writes fail while set); null in production.</summary>
    public StorageFaults? Faults { get; init; }
}
