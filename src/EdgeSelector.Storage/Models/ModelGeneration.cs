namespace EdgeSelector.Storage.Models;

/// <summary>Metadata of one stored bundle generation.</summary>
/// <param name="Generation">Store-internal generation number (high half of every model key of the bundle).</param>
/// <param name="Version">The bundle version the push carried.</param>
/// <param name="CreatedAt">When the bundle was committed on this node (UTC).</param>
/// <param name="TitleCount">Number of titles in the generation.</param>
public readonly record struct ModelGenerationInfo(uint Generation, ulong Version, DateTimeOffset CreatedAt, int TitleCount);

/// <summary>In-memory state of one generation: its metadata, its title list and the reader pins that delay deletion.</summary>
internal sealed class GenerationState
{
    private int _pins;
    private int _retired;

    public GenerationState(uint generation, ulong version, long createdAtUnixMs, uint[] titleIds, long startAddress)
    {
        Generation = generation;
        Version = version;
        CreatedAtUnixMs = createdAtUnixMs;
        TitleIds = titleIds;
        StartAddress = startAddress;
    }

    public uint Generation { get; }

    public ulong Version { get; }

    public long CreatedAtUnixMs { get; }

    /// <summary>Sorted, distinct title ids of the generation.</summary>
    public uint[] TitleIds { get; }

    /// <summary>Log tail address when the generation's first record was written (records of it are at or above).</summary>
    public long StartAddress { get; }

    public bool IsRetired => Volatile.Read(ref _retired) != 0;

    public ModelGenerationInfo Info =>
        new(Generation, Version, DateTimeOffset.FromUnixTimeMilliseconds(CreatedAtUnixMs), TitleIds.Length);

    /// <summary>
    /// Pins the generation for a reader. Fails if it was retired; the reader then re-reads the active generation.
    /// Dekker-style pairing with <see cref="RetireAndCheckUnpinned"/>: the Interlocked increment is a full fence
    /// before the retired flag is read, and the retirer fences between setting the flag and reading the pin count,
    /// so either the reader sees the flag or the retirer sees the pin.
    /// </summary>
    public bool TryPin()
    {
        Interlocked.Increment(ref _pins);
        if (Volatile.Read(ref _retired) == 0)
        {
            return true;
        }

        Interlocked.Decrement(ref _pins);
        return false;
    }

    public void Unpin() => Interlocked.Decrement(ref _pins);

    /// <summary>Marks the generation retired; true if no reader holds it, so its keys may be deleted now.</summary>
    public bool RetireAndCheckUnpinned()
    {
        Volatile.Write(ref _retired, 1);
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref _pins) == 0;
    }

    public bool IsUnpinned => Volatile.Read(ref _pins) == 0;
}
