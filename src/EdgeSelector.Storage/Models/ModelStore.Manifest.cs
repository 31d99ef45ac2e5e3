using System.Buffers.Binary;

namespace EdgeSelector.Storage.Models;

/// <summary>
/// The manifest and title lists: the metadata that lets a restarted node find the active bundle with no control plane.
/// </summary>
/// <remarks>
/// All live in the KV store itself (generation 0), so a checkpoint captures them atomically with the models.
/// Manifest, key 0, little-endian:
/// <code>
/// u32 magic "ESM2" | u32 nextGeneration | u32 keptCount | u32 pendingDeleteCount | u32 metadataCount
/// keptCount × { u32 generation | u32 titleCount | u64 version | i64 createdAtUnixMs | i64 startAddress }  (oldest first; last = active)
/// pendingDeleteCount × u32 generation   (retired, deletion deferred by a reader; finished on recovery)
/// metadataCount × u32 slot              (metadata values the store holds, each at key 0xFFFF0000 + slot)
/// </code>
/// "ESM1" (older stores) is the same without metadataCount and slots. Title list of generation g, key g: titleCount ×
/// u32 title id, ascending. Metadata are opaque bytes the caller commits with a bundle (the server keeps its bundle
/// history and default images there: one place for each, written atomically with the models they describe).
/// </remarks>
public sealed partial class ModelStore
{
    /// <summary>Metadata slot values live at generation 0, title ids from here up (generation numbers stay below).</summary>
    internal const uint MetadataKeyBase = 0xFFFF_0000;

    private const uint ManifestMagicV1 = 0x314D5345; // "ESM1" read as little-endian u32
    private const uint ManifestMagic = 0x324D5345; // "ESM2"
    private const int ManifestHeaderBytesV1 = 16;
    private const int ManifestHeaderBytes = 20;
    private const int ManifestEntryBytes = 32;

    private static void CheckSlot(uint slot) =>
        ArgumentOutOfRangeException.ThrowIfGreaterThan(slot, 0xFFFFu, nameof(slot));

    private static long MetadataKey(uint slot) => ModelKey(0, MetadataKeyBase + slot);

    private void WriteManifest() => WriteManifest(_history, _pendingDelete, _metadata);

    private void WriteManifest(GenerationState[] history, IReadOnlyList<GenerationState> pendingDelete, IReadOnlyDictionary<uint, byte[]> metadata)
    {
        int length = ManifestHeaderBytes + (history.Length * ManifestEntryBytes) + (pendingDelete.Count * 4) + (metadata.Count * 4);
        var bytes = _scratch.Ensure(length);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, ManifestMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[4..], _nextGeneration);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[8..], (uint)history.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[12..], (uint)pendingDelete.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[16..], (uint)metadata.Count);
        int offset = ManifestHeaderBytes;
        foreach (var generation in history)
        {
            var entry = bytes.Slice(offset, ManifestEntryBytes);
            BinaryPrimitives.WriteUInt32LittleEndian(entry, generation.Generation);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], (uint)generation.TitleIds.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], generation.Version);
            BinaryPrimitives.WriteInt64LittleEndian(entry[16..], generation.CreatedAtUnixMs);
            BinaryPrimitives.WriteInt64LittleEndian(entry[24..], generation.StartAddress);
            offset += ManifestEntryBytes;
        }

        foreach (var generation in pendingDelete)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes[offset..], generation.Generation);
            offset += 4;
        }

        foreach (var slot in metadata.Keys)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes[offset..], slot);
            offset += 4;
        }

        UpsertScratch(ModelKey(0, 0), length);
    }

    private void WriteMetadataValue(uint slot, ReadOnlySpan<byte> value)
    {
        value.CopyTo(_scratch.Ensure(value.Length));
        UpsertScratch(MetadataKey(slot), value.Length);
    }

    /// <summary>Puts back the values <paramref name="previous"/> held for <paramref name="slots"/> (deleting the ones it did not hold).</summary>
    private void RestoreMetadata(IReadOnlyDictionary<uint, byte[]> previous, IEnumerable<uint> slots)
    {
        foreach (var slot in slots)
        {
            if (previous.TryGetValue(slot, out var value))
            {
                WriteMetadataValue(slot, value);
            }
            else
            {
                DeleteKey(MetadataKey(slot));
            }
        }
    }

    private void WriteTitleList(uint generation, uint[] titleIds)
    {
        int length = titleIds.Length * 4;
        var bytes = _scratch.Ensure(length);
        for (int i = 0; i < titleIds.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes[(i * 4)..], titleIds[i]);
        }

        UpsertScratch(ModelKey(0, generation), length);
    }

    /// <summary>Rebuilds the in-memory generation state from a recovered store; a fresh store has no manifest.</summary>
    private void RecoverManifest()
    {
        var copy = new CopyVisitor(_scratch);
        if (!ReadCore(0, 0, ref copy))
        {
            return;
        }

        byte[] manifest = _scratch.Ensure(copy.Length).ToArray();
        uint magic = manifest.Length >= ManifestHeaderBytesV1 ? BinaryPrimitives.ReadUInt32LittleEndian(manifest) : 0;
        if (magic != ManifestMagic && magic != ManifestMagicV1)
        {
            throw new InvalidDataException("The model store manifest is not in a known format.");
        }

        int header = magic == ManifestMagic ? ManifestHeaderBytes : ManifestHeaderBytesV1;
        uint nextGeneration = BinaryPrimitives.ReadUInt32LittleEndian(manifest.AsSpan(4));
        int keptCount = (int)BinaryPrimitives.ReadUInt32LittleEndian(manifest.AsSpan(8));
        int pendingCount = (int)BinaryPrimitives.ReadUInt32LittleEndian(manifest.AsSpan(12));
        int metadataCount = magic == ManifestMagic && manifest.Length >= header ? (int)BinaryPrimitives.ReadUInt32LittleEndian(manifest.AsSpan(16)) : 0;
        if (manifest.Length != header + ((long)keptCount * ManifestEntryBytes) + ((long)pendingCount * 4) + ((long)metadataCount * 4))
        {
            throw new InvalidDataException("The model store manifest has an inconsistent length.");
        }

        var history = new GenerationState[keptCount];
        for (int i = 0; i < keptCount; i++)
        {
            var entry = manifest.AsSpan(header + (i * ManifestEntryBytes), ManifestEntryBytes);
            uint generation = BinaryPrimitives.ReadUInt32LittleEndian(entry);
            int titleCount = (int)BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]);
            var titleIds = ReadTitleList(generation);
            if (titleIds.Length != titleCount)
            {
                throw new InvalidDataException($"Generation {generation} lists {titleIds.Length} titles; the manifest says {titleCount}.");
            }

            history[i] = new GenerationState(
                generation,
                BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]),
                BinaryPrimitives.ReadInt64LittleEndian(entry[16..]),
                titleIds,
                BinaryPrimitives.ReadInt64LittleEndian(entry[24..]));
        }

        var metadata = new Dictionary<uint, byte[]>(metadataCount);
        int metadataOffset = header + (keptCount * ManifestEntryBytes) + (pendingCount * 4);
        for (int i = 0; i < metadataCount; i++)
        {
            uint slot = BinaryPrimitives.ReadUInt32LittleEndian(manifest.AsSpan(metadataOffset + (i * 4)));
            var value = new CopyVisitor(_scratch);
            if (!ReadCore(0, MetadataKeyBase + slot, ref value))
            {
                throw new InvalidDataException($"Metadata slot {slot} named by the manifest is missing.");
            }

            metadata[slot] = _scratch.Ensure(value.Length).ToArray();
        }

        _nextGeneration = nextGeneration;
        _history = history;
        _active = history.Length > 0 ? history[^1] : null;
        _metadata = metadata;

        // Deletions a reader had deferred before the checkpoint: no reader can hold them now.
        int pendingOffset = header + (keptCount * ManifestEntryBytes);
        for (int i = 0; i < pendingCount; i++)
        {
            uint generation = BinaryPrimitives.ReadUInt32LittleEndian(manifest.AsSpan(pendingOffset + (i * 4)));
            var retired = new GenerationState(generation, 0, 0, ReadTitleList(generation), 0);
            Retire(retired);
        }

        if (pendingCount > 0)
        {
            DeleteUnpinnedRetired();
            WriteManifest();
        }
    }

    private uint[] ReadTitleList(uint generation)
    {
        var copy = new CopyVisitor(_scratch);
        if (!ReadCore(0, generation, ref copy))
        {
            throw new InvalidDataException($"The title list of generation {generation} is missing.");
        }

        var bytes = _scratch.Ensure(copy.Length);
        var titleIds = new uint[bytes.Length / 4];
        for (int i = 0; i < titleIds.Length; i++)
        {
            titleIds[i] = BinaryPrimitives.ReadUInt32LittleEndian(bytes[(i * 4)..]);
        }

        return titleIds;
    }
}
