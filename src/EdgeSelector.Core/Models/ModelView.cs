using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Core.Models;

/// <summary>How much of a blob <see cref="ModelView.TryOpen"/> checks.</summary>
public enum ModelCheck : byte
{
    /// <summary>
    /// Header only (magic, version, sizes, offsets against the blob length): a few dozen nanoseconds, for the hot
    /// path over blobs that were fully checked when they entered the store.
    /// </summary>
    Structure = 0,

    /// <summary>
    /// Everything: structure, the CRC-32C, finite biases and scales, non-negative variances, a well-formed tag table.
    /// For blobs arriving from the network or from disk.
    /// </summary>
    Full = 1,
}

/// <summary>
/// A read-in-place view of one title's model blob (docs/model-format.md). It copies nothing and allocates nothing:
/// every accessor reads the blob's own bytes, so the store's memory is what gets scored.
/// </summary>
public readonly ref struct ModelView
{
    private readonly ReadOnlySpan<byte> _blob;

    // The header fields a selection reads, parsed once by TryOpen (the structure check reads them anyway).
    private readonly int _imageCount;
    private readonly int _paddedCount;
    private readonly int _dimension;
    private readonly int _denseSlots;
    private readonly int _weightsOffset;
    private readonly int _variancesOffset;
    private readonly WeightPrecision _precision;

    private ModelView(ReadOnlySpan<byte> blob, Layout layout)
    {
        _blob = blob;
        _imageCount = layout.ImageCount;
        _paddedCount = layout.PaddedCount;
        _dimension = layout.Dimension;
        _denseSlots = layout.DenseSlots;
        _weightsOffset = layout.WeightsOffset;
        _variancesOffset = layout.VariancesOffset;
        _precision = layout.Precision;
    }

    /// <summary>The blob's bytes (exactly <see cref="TotalLength"/> long).</summary>
    public ReadOnlySpan<byte> Bytes => _blob;

    /// <summary>Title id.</summary>
    public uint TitleId => U32(ModelFormat.TitleIdOffset);

    /// <summary>The image shown when anything fails.</summary>
    public uint DefaultImageId => U32(ModelFormat.DefaultImageOffset);

    /// <summary>Model version (monotonic per title, set by the trainer).</summary>
    public ulong ModelVersion => BinaryPrimitives.ReadUInt64LittleEndian(_blob[ModelFormat.ModelVersionOffset..]);

    /// <summary>Number of candidate images K.</summary>
    public int ImageCount => _imageCount;

    /// <summary>K rounded up to whole SIMD lanes: the row length of the weight sections.</summary>
    public int PaddedCount => _paddedCount;

    /// <summary>The feature space the weights expect.</summary>
    public FeatureSpace FeatureSpace
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(U16(ModelFormat.DimensionOffset), U32(ModelFormat.HashSeedOffset), U16(ModelFormat.SchemaVersionOffset));
    }

    /// <summary>Feature dimension d.</summary>
    public int Dimension => _dimension;

    /// <summary>Dense slots of the model's feature schema (20 for schema 1, 36 for schema 2): the hashed part starts here.</summary>
    public int DenseSlots => _denseSlots;

    /// <summary>How the weights are stored.</summary>
    public WeightPrecision Precision => _precision;

    /// <summary>Model-wide flags.</summary>
    public ModelFlags Flags => (ModelFlags)_blob[ModelFormat.FlagsOffset];

    /// <summary>True when the blob carries per-weight variances (Thompson sampling, UCB).</summary>
    public bool HasVariances => _variancesOffset != 0;

    /// <summary>The cold-start prior mean (the title's mean take rate when the model was built).</summary>
    public float PriorMean => BinaryPrimitives.ReadSingleLittleEndian(_blob[ModelFormat.PriorMeanOffset..]);

    /// <summary>Length of the blob as its header states it.</summary>
    public int TotalLength => (int)U32(ModelFormat.TotalLengthOffset);

    /// <summary>Image ids, K entries.</summary>
    public ReadOnlySpan<uint> ImageIds => Section<uint>(0)[..ImageCount];

    /// <summary>Per-image bias b_i (padded to <see cref="PaddedCount"/>, padding lanes zero).</summary>
    public ReadOnlySpan<float> Biases => Section<float>(1);

    /// <summary>Per-image scale applied to the dot product of the stored weights (1 for float weights).</summary>
    public ReadOnlySpan<float> WeightScales => Section<float>(2);

    /// <summary>Per-image posterior variance of the bias.</summary>
    public ReadOnlySpan<float> BiasVariances => Section<float>(3);

    /// <summary>Per-image scale of the stored variances (1 for float variances).</summary>
    public ReadOnlySpan<float> VarianceScales => Section<float>(4);

    /// <summary>Per-image flags, K entries.</summary>
    public ReadOnlySpan<ImageFlags> ImageFlags =>
        MemoryMarshal.Cast<byte, ImageFlags>(_blob.Slice(ModelFormat.HeaderSize + (PaddedCount * 20), ImageCount));

    /// <summary>The weight section: <see cref="Dimension"/> rows of <see cref="PaddedCount"/> elements (feature-major).</summary>
    public ReadOnlySpan<byte> Weights =>
        _blob.Slice(_weightsOffset, ModelFormat.SectionSize(_paddedCount, _dimension, _precision));

    /// <summary>The variance section, same shape as <see cref="Weights"/>; empty when <see cref="HasVariances"/> is false.</summary>
    public ReadOnlySpan<byte> Variances => _variancesOffset != 0
        ? _blob.Slice(_variancesOffset, ModelFormat.SectionSize(_paddedCount, _dimension, _precision))
        : default;

    /// <summary>Index of an image id among the candidates, or -1.</summary>
    public int IndexOf(uint imageId) => ImageIds.IndexOf(imageId);

    /// <summary>
    /// Opens a blob. Returns false and the reason when it is truncated, corrupt or of an unknown version; a view is
    /// only ever handed out over a blob that passed <paramref name="check"/>.
    /// </summary>
    public static bool TryOpen(ReadOnlySpan<byte> blob, ModelCheck check, out ModelView view, out ModelError error)
    {
        view = default;
        error = CheckStructure(blob, out var layout);
        if (error != ModelError.None)
        {
            return false;
        }

        var candidate = new ModelView(blob[..layout.TotalLength], layout);
        if (check == ModelCheck.Full)
        {
            error = candidate.CheckContent();
            if (error != ModelError.None)
            {
                return false;
            }
        }

        view = candidate;
        return true;
    }

    /// <summary>The theme tags of one image (allocates: for tools and the trainer, not the hot path).</summary>
    public string[] GetTags(int image)
    {
        var table = _blob[(int)U32(ModelFormat.TagsOffsetOffset)..];
        var pos = 0;
        for (var i = 0; i < image; i++)
        {
            var count = table[pos++];
            for (var t = 0; t < count; t++)
            {
                pos += 1 + table[pos];
            }
        }

        var tags = new string[table[pos++]];
        for (var t = 0; t < tags.Length; t++)
        {
            var len = table[pos++];
            tags[t] = Encoding.UTF8.GetString(table.Slice(pos, len));
            pos += len;
        }

        return tags;
    }

    /// <summary>
    /// Writes each image's tag mask (the OR of <see cref="Exploration.PageDiversity.TagBit(ReadOnlySpan{byte})"/> over
    /// its tags) into the first K entries of <paramref name="masks"/>: one pass over the tag table, no allocation. Only
    /// the page policy reads it, so a selection without one never touches the tag table.
    /// </summary>
    public void GetTagMasks(Span<ulong> masks)
    {
        var table = _blob[(int)U32(ModelFormat.TagsOffsetOffset)..];
        var pos = 0;
        for (var i = 0; i < ImageCount; i++)
        {
            ulong mask = 0;
            var count = table[pos++];
            for (var t = 0; t < count; t++)
            {
                var len = table[pos];
                mask |= Exploration.PageDiversity.TagBit(table.Slice(pos + 1, len));
                pos += 1 + len;
            }

            masks[i] = mask;
        }
    }

    /// <summary>The tag mask of one image (see <see cref="GetTagMasks"/>).</summary>
    public ulong GetTagMask(int image)
    {
        var table = _blob[(int)U32(ModelFormat.TagsOffsetOffset)..];
        var pos = 0;
        for (var i = 0; i < image; i++)
        {
            var count = table[pos++];
            for (var t = 0; t < count; t++)
            {
                pos += 1 + table[pos];
            }
        }

        ulong mask = 0;
        var tags = table[pos++];
        for (var t = 0; t < tags; t++)
        {
            var len = table[pos];
            mask |= Exploration.PageDiversity.TagBit(table.Slice(pos + 1, len));
            pos += 1 + len;
        }

        return mask;
    }

    /// <summary>The CRC-32C a writer stores at header offset 12: over the whole blob except that field.</summary>
    public static uint ComputeChecksum(ReadOnlySpan<byte> blob) =>
        Crc32C.Append(Crc32C.Compute(blob[..ModelFormat.ChecksumOffset]), blob[(ModelFormat.ChecksumOffset + 4)..]);

    // Never inlined: inlined into a caller (dynamic PGO tries, the selection path is hot) it used up the caller's
    // inlining budget, and the little BinaryPrimitives readers in here became real calls (~40 ns per selection).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ModelError CheckStructure(ReadOnlySpan<byte> blob, out Layout layout)
    {
        layout = default;
        if (blob.Length < ModelFormat.HeaderSize)
        {
            return ModelError.Truncated;
        }

        // One read of the whole header (the image-table accessors already take the blob as little-endian memory).
        var h = MemoryMarshal.Read<Header>(blob);
        if (h.Magic != ModelFormat.Magic)
        {
            return ModelError.BadMagic;
        }

        // Version 1 differs from 2 only in how int8 sections are laid out: its fp32 and bf16 blobs (the trainer's
        // fp32 bundles among them) are read as they are; a version-1 int8 blob is refused, never mis-scored.
        if (h.Version != ModelFormat.Version
            && !(h.Version == ModelFormat.FloatCompatibleVersion && (WeightPrecision)h.Precision != WeightPrecision.Int8))
        {
            return ModelError.UnsupportedVersion;
        }

        if (h.TotalLength > (uint)blob.Length)
        {
            return ModelError.Truncated;
        }

        var precision = (WeightPrecision)h.Precision;
        if (ModelFormat.ElementSize(precision) == 0)
        {
            return ModelError.BadPrecision;
        }

        int k = h.ImageCount;
        int kp = h.PaddedCount;
        int d = h.Dimension;
        var hasVariances = ((ModelFlags)h.Flags & ModelFlags.HasVariances) != 0;
        var section = (uint)ModelFormat.Align(ModelFormat.SectionSize(kp, d, precision));
        var weights = (uint)ModelFormat.WeightsOffset(kp);
        var tags = weights + (hasVariances ? 2 * section : section);
        var denseSlots = FeatureEncoder.DenseSlotCount(h.SchemaVersion); // 0 for a schema this build does not know
        var minDimension = denseSlots + 8;

        // Every field must hold the value the rest imply; one combined test (non-short-circuit) on the hot path.
        var bad = (h.HeaderSize != ModelFormat.HeaderSize)
            | ((uint)(k - 1) >= ModelFormat.MaxImages) | (kp != ModelFormat.PadImages(k))
            | ((uint)(d - minDimension) > (uint)(ModelFormat.MaxDimension - minDimension))
            | (denseSlots == 0)
            | (h.WeightsOffset != weights)
            | (h.VariancesOffset != (hasVariances ? weights + section : 0))
            | (h.TagsOffset != tags)
            | ((ulong)tags + (uint)k > h.TotalLength);
        if (bad)
        {
            return ModelError.BadLayout;
        }

        layout = new Layout((int)h.TotalLength, k, kp, d, denseSlots, (int)weights, (int)h.VariancesOffset, precision);
        return ModelError.None;
    }

    // The 64-byte header as it lies in the blob (docs/model-format.md, "Header"; offsets in ModelFormat).
    [StructLayout(LayoutKind.Sequential, Pack = 1, Size = ModelFormat.HeaderSize)]
    private readonly struct Header
    {
        public readonly uint Magic;
        public readonly ushort Version;
        public readonly ushort HeaderSize;
        public readonly uint TotalLength;
        public readonly uint Checksum;
        public readonly uint TitleId;
        public readonly uint DefaultImageId;
        public readonly ulong ModelVersion;
        public readonly ushort ImageCount;
        public readonly ushort PaddedCount;
        public readonly ushort Dimension;
        public readonly ushort SchemaVersion;
        public readonly uint HashSeed;
        public readonly byte Precision;
        public readonly byte Flags;
        public readonly ushort Reserved;
        public readonly uint TagsOffset;
        public readonly uint WeightsOffset;
        public readonly uint VariancesOffset;
        public readonly float PriorMean;
    }

    private ModelError CheckContent()
    {
        if (ComputeChecksum(_blob) != U32(ModelFormat.ChecksumOffset))
        {
            return ModelError.ChecksumMismatch;
        }

        foreach (var section in (ReadOnlySpan<int>)[1, 2, 3, 4])
        {
            foreach (var v in Section<float>(section))
            {
                if (!float.IsFinite(v) || (section >= 3 && v < 0))
                {
                    return ModelError.BadLayout;
                }
            }
        }

        if (HasVariances && !AllNonNegative(Variances, Precision))
        {
            return ModelError.BadLayout;
        }

        // The tag table must end exactly at the end of the blob.
        var table = _blob[(int)U32(ModelFormat.TagsOffsetOffset)..];
        var pos = 0;
        for (var i = 0; i < ImageCount; i++)
        {
            if (pos >= table.Length)
            {
                return ModelError.BadLayout;
            }

            var count = table[pos++];
            for (var t = 0; t < count; t++)
            {
                if (pos >= table.Length || pos + 1 + table[pos] > table.Length)
                {
                    return ModelError.BadLayout;
                }

                pos += 1 + table[pos];
            }
        }

        return pos == table.Length ? ModelError.None : ModelError.BadLayout;
    }

    private static bool AllNonNegative(ReadOnlySpan<byte> section, WeightPrecision precision)
    {
        if (precision == WeightPrecision.Float32)
        {
            foreach (var v in MemoryMarshal.Cast<byte, float>(section))
            {
                if (!(v >= 0) || !float.IsFinite(v))
                {
                    return false;
                }
            }
        }
        else if (precision == WeightPrecision.Int8)
        {
            foreach (var v in section)
            {
                if (v < ModelFormat.Int8Offset)
                {
                    return false; // q = v − 128 < 0
                }
            }
        }
        else
        {
            // bfloat16: the sign bit is the top bit of each 16-bit element; an all-ones exponent is Inf/NaN.
            foreach (var v in MemoryMarshal.Cast<byte, ushort>(section))
            {
                if ((v & 0x8000) != 0 || (v & 0x7F80) == 0x7F80)
                {
                    return false;
                }
            }
        }

        return true;
    }

    private readonly record struct Layout(int TotalLength, int ImageCount, int PaddedCount, int Dimension, int DenseSlots, int WeightsOffset, int VariancesOffset, WeightPrecision Precision);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint U32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(_blob[offset..]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ushort U16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(_blob[offset..]);

    // The image table holds five 4-byte arrays of PaddedCount entries after the header: ids, biases, weight scales,
    // bias variances, variance scales (docs/model-format.md, "Image table").
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReadOnlySpan<T> Section<T>(int index)
        where T : unmanaged
    {
        var kp = _paddedCount;
        return MemoryMarshal.Cast<byte, T>(_blob.Slice(ModelFormat.HeaderSize + (index * kp * 4), kp * 4));
    }
}
