namespace EdgeSelector.Storage.Models;

/// <summary>
/// Writes one bundle as a new generation. Nothing is visible to readers until <see cref="Commit()"/>; disposing without
/// committing deletes what was written. Holds the store's push lock from <see cref="ModelStore.BeginBundle"/> until
/// commit or dispose (or, if the commit is pending on the disk, until it is durable), so only one push (or rollback, or
/// checkpoint) runs at a time. Not thread-safe.
/// </summary>
public sealed class ModelBundleWriter : IDisposable
{
    private readonly ModelStore _store;
    private readonly HashSet<uint> _titles = [];
    private readonly Dictionary<uint, byte[]> _metadata = [];
    private bool _finished;

    internal ModelBundleWriter(ModelStore store, uint generation, ulong version, bool partial, long startAddress)
    {
        _store = store;
        Generation = generation;
        Version = version;
        Partial = partial;
        StartAddress = startAddress;
    }

    /// <summary>The bundle version this writer commits.</summary>
    public ulong Version { get; }

    /// <summary>True if titles the bundle does not mention are carried over from the active bundle on commit.</summary>
    public bool Partial { get; }

    /// <summary>Number of distinct titles written so far.</summary>
    public int Count => _titles.Count;

    /// <summary>True if the bundle holds <paramref name="titleId"/> so far.</summary>
    public bool Contains(uint titleId) => _titles.Contains(titleId);

    internal uint Generation { get; }

    internal long StartAddress { get; }

    internal HashSet<uint> Titles => _titles;

    internal Dictionary<uint, byte[]> Metadata => _metadata;

    /// <summary>
    /// Stores opaque <paramref name="value"/> in metadata slot <paramref name="slot"/> (0..65535) with the bundle: it is
    /// written in the same checkpoint and read back with <see cref="ModelStore.TryGetMetadata"/> once committed.
    /// </summary>
    public void SetMetadata(uint slot, ReadOnlySpan<byte> value)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(slot, 0xFFFFu, nameof(slot));
        _metadata[slot] = value.ToArray();
    }

    /// <summary>Validates and stores a title's model; false (nothing stored) if the validator rejects it.</summary>
    public bool TryAdd<TValidator>(uint titleId, ReadOnlySpan<byte> model, ref TValidator validator)
        where TValidator : struct, IModelValidator
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        if (!validator.Validate(titleId, model))
        {
            return false;
        }

        _store.WriteModel(Generation, titleId, model);
        _titles.Add(titleId);
        return true;
    }

    /// <summary>Stores a title's model without validation (the caller validated it already).</summary>
    public void Add(uint titleId, ReadOnlySpan<byte> model)
    {
        var accept = default(AcceptAllModels);
        TryAdd(titleId, model, ref accept);
    }

    /// <summary>
    /// Checkpoints the bundle and, once that is durable, makes it the active one atomically and retires the oldest kept
    /// one. Waits as long as the disk needs (tools and tests); the server uses <see cref="CommitAsync"/>.
    /// </summary>
    public ModelGenerationInfo Commit()
    {
        var result = Commit(Timeout.InfiniteTimeSpan, out var info);
        return result.IsDurable ? info : throw new InvalidOperationException(result.Reason);
    }

    /// <summary>
    /// As <see cref="Commit()"/>, waiting at most <paramref name="within"/> for the checkpoint. Durable: active now.
    /// Pending: the checkpoint waits for the disk; the bundle becomes active only when it is durable (the store takes no
    /// other write meanwhile). Failed: undone. <paramref name="info"/> describes the bundle as it will be once active.
    /// </summary>
    public StoreWriteResult Commit(TimeSpan within, out ModelGenerationInfo info) =>
        CommitAsync(within, out info).GetAwaiter().GetResult();

    /// <summary>
    /// As <see cref="Commit(TimeSpan, out ModelGenerationInfo)"/>, without holding a thread while the checkpoint writes:
    /// the bundle's records are written on the calling thread before this returns; the task completes with the outcome
    /// when the checkpoint is durable or after <paramref name="within"/> (the server's push path awaits it).
    /// </summary>
    public Task<StoreWriteResult> CommitAsync(TimeSpan within, out ModelGenerationInfo info)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        _finished = true;
        return _store.CommitBundleAsync(this, within, out info);
    }

    /// <summary>Aborts the bundle if it was not committed (its records are deleted) and releases the push lock.</summary>
    public void Dispose()
    {
        if (_finished)
        {
            return;
        }

        _finished = true;
        try
        {
            _store.AbortBundle(this);
        }
        finally
        {
            _store.ReleaseWriteLock();
        }
    }
}
