namespace EdgeSelector.Storage.Models;

/// <summary>
/// A consistent view of one bundle generation: every read through it sees the same bundle even if a push or a
/// rollback happens meanwhile. While it is held the generation's models are not deleted. Dispose exactly once,
/// and do not hold it longer than a request (a held snapshot delays deletion of a replaced bundle).
/// </summary>
public readonly struct ModelSnapshot : IDisposable
{
    private readonly ModelStore? _store;
    private readonly GenerationState? _generation;

    internal ModelSnapshot(ModelStore store, GenerationState generation)
    {
        _store = store;
        _generation = generation;
    }

    /// <summary>The bundle version this snapshot reads (0 if the store has no bundle).</summary>
    public ulong Version => _generation?.Version ?? 0;

    /// <summary>Store-internal generation number of the snapshot (0 if the store has no bundle).</summary>
    public uint Generation => _generation?.Generation ?? 0;

    /// <summary>The titles of the snapshot's bundle, in ascending id order.</summary>
    public ReadOnlySpan<uint> TitleIds => _generation is null ? default : _generation.TitleIds;

    /// <summary>Number of titles in the snapshot's bundle.</summary>
    public int TitleCount => _generation?.TitleIds.Length ?? 0;

    /// <summary>Reads a title's model in place from this snapshot's generation; false if the bundle lacks it.</summary>
    public bool TryRead<TVisitor>(uint titleId, ref TVisitor visitor)
        where TVisitor : struct, IModelVisitor =>
        _generation is not null && _store!.ReadCore(_generation.Generation, titleId, ref visitor);

    /// <summary>Releases the pin on the generation.</summary>
    public void Dispose() => _generation?.Unpin();
}
