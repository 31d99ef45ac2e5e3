namespace EdgeSelector.Storage.Models;

/// <summary>
/// Writes one bundle as a new generation. Nothing is visible to readers until <see cref="Commit"/>; disposing without
/// committing deletes what was written. Holds the store's push lock from <see cref="ModelStore.BeginBundle"/> until
/// commit or dispose, so only one push (or rollback, or checkpoint) runs at a time. Not thread-safe.
/// </summary>
public sealed class ModelBundleWriter : IDisposable
{
    private readonly ModelStore _store;
    private readonly HashSet<uint> _titles = [];
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

    internal uint Generation { get; }

    internal long StartAddress { get; }

    internal HashSet<uint> Titles => _titles;

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

    /// <summary>Makes the bundle the active one atomically, retires the oldest kept one, and checkpoints if configured.</summary>
    public ModelGenerationInfo Commit()
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        _finished = true;
        try
        {
            return _store.CommitBundle(this);
        }
        finally
        {
            _store.ReleaseWriteLock();
        }
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
