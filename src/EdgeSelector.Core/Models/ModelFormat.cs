namespace EdgeSelector.Core.Models;

/// <summary>How the weights (and variances) of a model are stored. See docs/model-format.md.</summary>
public enum WeightPrecision : byte
{
    /// <summary>IEEE 754 single precision, 4 bytes per weight.</summary>
    Float32 = 0,
    /// <summary>bfloat16 (the top half of a float32), 2 bytes per weight.</summary>
    BFloat16 = 1,
    /// <summary>8-bit integer q ∈ [-127, 127] (stored as q + 128) times a per-image float scale, 1 byte per weight.</summary>
    Int8 = 2,
}

/// <summary>Why a model blob was rejected.</summary>
public enum ModelError : byte
{
    /// <summary>The blob is valid.</summary>
    None = 0,
    /// <summary>Shorter than its header or than the length its header states.</summary>
    Truncated,
    /// <summary>The first four bytes are not the model magic.</summary>
    BadMagic,
    /// <summary>A format version this build does not read.</summary>
    UnsupportedVersion,
    /// <summary>The CRC-32C over the blob does not match the header.</summary>
    ChecksumMismatch,
    /// <summary>Sizes or offsets in the header are inconsistent (image count, dimension, sections).</summary>
    BadLayout,
    /// <summary>A weight precision this build does not know.</summary>
    BadPrecision,
}

/// <summary>Flags of a whole title model (header byte 45).</summary>
[Flags]
public enum ModelFlags : byte
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>The model carries a per-weight variance section (needed by Thompson sampling and UCB).</summary>
    HasVariances = 1,
    /// <summary>The title has no training data yet: every image is on its cold-start prior.</summary>
    ColdTitle = 2,
}

/// <summary>Flags of one candidate image.</summary>
[Flags]
public enum ImageFlags : byte
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>The image has no training data yet and is on the cold-start prior.</summary>
    Cold = 1,
}

/// <summary>
/// Byte layout constants of the model blob, version 2. The one description of the layout is docs/model-format.md;
/// every offset here is named there.
/// </summary>
public static class ModelFormat
{
    /// <summary>"ESM1" read as a little-endian u32.</summary>
    public const uint Magic = 0x314D5345;

    /// <summary>
    /// The format version this build writes and reads. Version 2 interleaves int8 sections in groups of four
    /// features (<see cref="ElementIndex"/>) and stores them offset by 128; version-1 int8 blobs are rejected as
    /// <see cref="ModelError.UnsupportedVersion"/> (version-1 fp32 and bf16 blobs are still read).
    /// </summary>
    public const ushort Version = 2;

    /// <summary>
    /// The older version this build still reads for fp32 and bf16 blobs, whose layout did not change (it writes
    /// <see cref="Version"/> only).
    /// </summary>
    public const ushort FloatCompatibleVersion = 1;

    /// <summary>Bytes in the fixed header.</summary>
    public const int HeaderSize = 64;

    /// <summary>Image counts are padded to a multiple of this many lanes so every SIMD load is full.</summary>
    public const int LaneMultiple = 8;

    /// <summary>Largest number of candidate images a title may have.</summary>
    public const int MaxImages = 256;

    /// <summary>Largest feature dimension a model may declare.</summary>
    public const int MaxDimension = 4096;

    /// <summary>Sections that SIMD loops stream through start on this boundary (one cache line).</summary>
    public const int SectionAlignment = 64;

    // Header field offsets (docs/model-format.md, "Header").
    internal const int MagicOffset = 0;
    internal const int VersionOffset = 4;
    internal const int HeaderSizeOffset = 6;
    internal const int TotalLengthOffset = 8;
    internal const int ChecksumOffset = 12;
    internal const int TitleIdOffset = 16;
    internal const int DefaultImageOffset = 20;
    internal const int ModelVersionOffset = 24;
    internal const int ImageCountOffset = 32;
    internal const int PaddedCountOffset = 34;
    internal const int DimensionOffset = 36;
    internal const int SchemaVersionOffset = 38;
    internal const int HashSeedOffset = 40;
    internal const int PrecisionOffset = 44;
    internal const int FlagsOffset = 45;
    internal const int ReservedOffset = 46;
    internal const int TagsOffsetOffset = 48;
    internal const int WeightsOffsetOffset = 52;
    internal const int VariancesOffsetOffset = 56;
    internal const int PriorMeanOffset = 60;

    /// <summary>
    /// Int8 sections store this many consecutive features of one image side by side, so one 32-bit lane holds the
    /// four bytes an int8 dot-product instruction (VNNI <c>vpdpbusd</c>) multiplies and sums.
    /// </summary>
    public const int Int8Group = 4;

    /// <summary>
    /// Int8 elements are stored as the unsigned byte q + 128 ("offset binary", zero point 128): the unsigned operand
    /// of <c>vpdpbusd</c> as it lies in memory, so the scorer loads weights with no per-load conversion.
    /// </summary>
    public const byte Int8Offset = 128;

    /// <summary>Bytes per stored weight for a precision.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static int ElementSize(WeightPrecision precision) => precision switch
    {
        WeightPrecision.Float32 => 4,
        WeightPrecision.BFloat16 => 2,
        WeightPrecision.Int8 => 1,
        _ => 0,
    };

    /// <summary>The image count rounded up to whole SIMD lanes.</summary>
    public static int PadImages(int imageCount) => (imageCount + LaneMultiple - 1) / LaneMultiple * LaneMultiple;

    /// <summary>Size of the per-image table: ids, bias, weight scale, bias variance, variance scale (4 bytes each) and flags (1 byte).</summary>
    public static int ImageTableSize(int paddedCount) => paddedCount * 21;

    /// <summary>Offset of the weight section: header and image table, rounded up to <see cref="SectionAlignment"/>.</summary>
    public static int WeightsOffset(int paddedCount) => Align(HeaderSize + ImageTableSize(paddedCount));

    /// <summary>
    /// Bytes of one weight (or variance) section: dimension rows of padded-count elements; int8 rounds the dimension
    /// up to whole groups of <see cref="Int8Group"/> features (the padding features are zero).
    /// </summary>
    public static int SectionSize(int paddedCount, int dimension, WeightPrecision precision) => precision == WeightPrecision.Int8
        ? paddedCount * PadFeatures(dimension)
        : paddedCount * dimension * ElementSize(precision);

    /// <summary>The dimension rounded up to whole int8 feature groups.</summary>
    public static int PadFeatures(int dimension) => (dimension + Int8Group - 1) & ~(Int8Group - 1);

    /// <summary>
    /// Element index of (feature j, image i) within a section of <paramref name="paddedCount"/> images: feature-major
    /// <c>j·Kp + i</c> for fp32 and bf16; for int8, group-major with the group's four features of one image
    /// adjacent, <c>((j/4)·Kp + i)·4 + j%4</c> (docs/model-format.md, "Weight and variance sections").
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static int ElementIndex(WeightPrecision precision, int paddedCount, int feature, int image) => precision == WeightPrecision.Int8
        ? ((((feature / Int8Group) * paddedCount) + image) * Int8Group) + (feature % Int8Group)
        : (feature * paddedCount) + image;

    /// <summary>
    /// Bytes a title's blob occupies before its tag table: what a greedy selection reads is the header, the image
    /// table and one weight section; Thompson sampling and UCB read the variance section too.
    /// </summary>
    public static int SizeWithoutTags(int imageCount, int dimension, WeightPrecision precision, bool hasVariances)
    {
        var kp = PadImages(imageCount);
        var section = SectionSize(kp, dimension, precision);
        var size = WeightsOffset(kp) + Align(section);
        return hasVariances ? size + Align(section) : size;
    }

    internal static int Align(int offset) => (offset + SectionAlignment - 1) & ~(SectionAlignment - 1);
}
