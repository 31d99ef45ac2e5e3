using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using EdgeSelector.Core.Features;

namespace EdgeSelector.Core.Models;

/// <summary>One candidate image of a <see cref="TitleModel"/>, in managed form.</summary>
public sealed class ImageModel
{
    /// <summary>Creates an image with zero weights for a dimension.</summary>
    public ImageModel(uint id, int dimension, params string[] tags)
    {
        Id = id;
        Tags = tags;
        Weights = new float[dimension];
        Variances = new float[dimension];
    }

    /// <summary>Image id (0 is reserved: "no artwork known").</summary>
    public uint Id { get; set; }

    /// <summary>Theme tags such as "comedy", "romance", "cast:X" (at most 255, each at most 255 UTF-8 bytes).</summary>
    public string[] Tags { get; set; }

    /// <summary>Weight vector w_i (length d).</summary>
    public float[] Weights { get; set; }

    /// <summary>Bias b_i.</summary>
    public float Bias { get; set; }

    /// <summary>Diagonal of the posterior covariance of w_i (length d, non-negative).</summary>
    public float[] Variances { get; set; }

    /// <summary>Posterior variance of b_i.</summary>
    public float BiasVariance { get; set; }

    /// <summary>True while the image has no training data (on the cold-start prior).</summary>
    public bool Cold { get; set; }
}

/// <summary>
/// A title's model in managed form: what the trainer, the catalog tools and the tests build, and what
/// <see cref="Serialize"/> turns into the one binary format (docs/model-format.md) that the store keeps and the
/// server reads in place through <see cref="ModelView"/>.
/// </summary>
public sealed class TitleModel
{
    /// <summary>Creates an empty model of a title.</summary>
    public TitleModel(uint titleId, ulong version, uint defaultImageId, FeatureSpace features)
    {
        TitleId = titleId;
        Version = version;
        DefaultImageId = defaultImageId;
        Features = features;
    }

    /// <summary>Title id.</summary>
    public uint TitleId { get; set; }

    /// <summary>Model version.</summary>
    public ulong Version { get; set; }

    /// <summary>The image served on any failure.</summary>
    public uint DefaultImageId { get; set; }

    /// <summary>The feature space of the weights.</summary>
    public FeatureSpace Features { get; set; }

    /// <summary>Cold-start prior mean: the title's mean take rate (reward scale of the scores).</summary>
    public float PriorMean { get; set; }

    /// <summary>True while the title has no training data.</summary>
    public bool ColdTitle { get; set; }

    /// <summary>The candidate images, in serving order.</summary>
    public List<ImageModel> Images { get; } = [];

    /// <summary>Adds a cold image on the documented prior (docs/model-format.md, "Cold start").</summary>
    public ImageModel AddColdImage(uint imageId, ColdStartPrior prior, params string[] tags)
    {
        var image = new ImageModel(imageId, Features.Dimension, tags)
        {
            Bias = PriorMean,
            BiasVariance = prior.BiasVariance,
            Cold = true,
        };
        Array.Fill(image.Variances, prior.WeightVariance);
        Images.Add(image);
        return image;
    }

    /// <summary>The blob size for a precision.</summary>
    public int GetSerializedSize(WeightPrecision precision, bool withVariances = true) =>
        ModelFormat.SizeWithoutTags(Images.Count, Features.Dimension, precision, withVariances) + TagTableSize();

    /// <summary>Writes the blob; throws <see cref="ArgumentException"/> when the model cannot be encoded.</summary>
    public byte[] Serialize(WeightPrecision precision = WeightPrecision.Float32, bool withVariances = true)
    {
        Validate();
        var blob = new byte[GetSerializedSize(precision, withVariances)];
        Write(blob, precision, withVariances);
        return blob;
    }

    /// <summary>Rebuilds the managed form from a view (dequantizing the weights).</summary>
    public static TitleModel FromView(ModelView view)
    {
        var model = new TitleModel(view.TitleId, view.ModelVersion, view.DefaultImageId, view.FeatureSpace)
        {
            PriorMean = view.PriorMean,
            ColdTitle = (view.Flags & ModelFlags.ColdTitle) != 0,
        };
        var d = view.Dimension;
        var kp = view.PaddedCount;
        for (var i = 0; i < view.ImageCount; i++)
        {
            var image = new ImageModel(view.ImageIds[i], d, view.GetTags(i))
            {
                Bias = view.Biases[i],
                BiasVariance = view.BiasVariances[i],
                Cold = (view.ImageFlags[i] & Models.ImageFlags.Cold) != 0,
            };
            for (var j = 0; j < d; j++)
            {
                var index = ModelFormat.ElementIndex(view.Precision, kp, j, i);
                image.Weights[j] = Dequantize(view.Weights, view.Precision, index) * view.WeightScales[i];
                if (view.HasVariances)
                {
                    image.Variances[j] = Dequantize(view.Variances, view.Precision, index) * view.VarianceScales[i];
                }
            }

            model.Images.Add(image);
        }

        return model;
    }

    /// <summary>
    /// The stored value of one element of a weight or variance section, before its per-image scale;
    /// <paramref name="index"/> is an element index (<see cref="ModelFormat.ElementIndex"/>).
    /// </summary>
    public static float Dequantize(ReadOnlySpan<byte> section, WeightPrecision precision, int index) => precision switch
    {
        WeightPrecision.Float32 => BinaryPrimitives.ReadSingleLittleEndian(section[(index * 4)..]),
        WeightPrecision.BFloat16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(section[(index * 2)..]) << 16),
        _ => section[index] - ModelFormat.Int8Offset,
    };

    /// <summary>Rounds a float to the nearest bfloat16 (ties to even), as the bfloat16 sections store it.</summary>
    public static ushort ToBFloat16(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return 0x7FC0;
        }

        bits += 0x7FFF + ((bits >> 16) & 1);
        return (ushort)(bits >> 16);
    }

    private void Validate()
    {
        if (Images.Count is < 1 or > ModelFormat.MaxImages)
        {
            throw new ArgumentException($"title {TitleId}: {Images.Count} images; a model needs 1 to {ModelFormat.MaxImages}");
        }

        if (!Features.IsSupported)
        {
            throw new ArgumentException($"title {TitleId}: unsupported feature space {Features}");
        }

        var ids = new HashSet<uint>();
        foreach (var image in Images)
        {
            if (image.Id == 0 || !ids.Add(image.Id))
            {
                throw new ArgumentException($"title {TitleId}: image id {image.Id} is 0 or repeated");
            }

            if (image.Weights.Length != Features.Dimension || image.Variances.Length != Features.Dimension)
            {
                throw new ArgumentException($"title {TitleId} image {image.Id}: vectors must have length {Features.Dimension}");
            }

            if (!float.IsFinite(image.Bias) || !(image.BiasVariance >= 0) || !float.IsFinite(image.BiasVariance)
                || Array.Exists(image.Weights, w => !float.IsFinite(w))
                || Array.Exists(image.Variances, v => !(v >= 0) || !float.IsFinite(v)))
            {
                throw new ArgumentException($"title {TitleId} image {image.Id}: weights must be finite and variances non-negative");
            }

            if (image.Tags.Length > 255 || Array.Exists(image.Tags, t => Encoding.UTF8.GetByteCount(t) > 255))
            {
                throw new ArgumentException($"title {TitleId} image {image.Id}: at most 255 tags of at most 255 bytes");
            }
        }
    }

    private int TagTableSize()
    {
        var size = 0;
        foreach (var image in Images)
        {
            size += 1;
            foreach (var tag in image.Tags)
            {
                size += 1 + Encoding.UTF8.GetByteCount(tag);
            }
        }

        return size;
    }

    private void Write(Span<byte> blob, WeightPrecision precision, bool withVariances)
    {
        var k = Images.Count;
        var kp = ModelFormat.PadImages(k);
        var d = Features.Dimension;
        var weightsOffset = ModelFormat.WeightsOffset(kp);
        var section = ModelFormat.SectionSize(kp, d, precision);
        var variancesOffset = withVariances ? weightsOffset + ModelFormat.Align(section) : 0;
        var tagsOffset = ModelFormat.SizeWithoutTags(k, d, precision, withVariances);
        var flags = (withVariances ? ModelFlags.HasVariances : ModelFlags.None) | (ColdTitle ? ModelFlags.ColdTitle : ModelFlags.None);

        BinaryPrimitives.WriteUInt32LittleEndian(blob[ModelFormat.MagicOffset..], ModelFormat.Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(blob[ModelFormat.VersionOffset..], ModelFormat.Version);
        BinaryPrimitives.WriteUInt16LittleEndian(blob[ModelFormat.HeaderSizeOffset..], ModelFormat.HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(blob[ModelFormat.TotalLengthOffset..], (uint)blob.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(blob[ModelFormat.TitleIdOffset..], TitleId);
        BinaryPrimitives.WriteUInt32LittleEndian(blob[ModelFormat.DefaultImageOffset..], DefaultImageId);
        BinaryPrimitives.WriteUInt64LittleEndian(blob[ModelFormat.ModelVersionOffset..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(blob[ModelFormat.ImageCountOffset..], (ushort)k);
        BinaryPrimitives.WriteUInt16LittleEndian(blob[ModelFormat.PaddedCountOffset..], (ushort)kp);
        BinaryPrimitives.WriteUInt16LittleEndian(blob[ModelFormat.DimensionOffset..], (ushort)d);
        BinaryPrimitives.WriteUInt16LittleEndian(blob[ModelFormat.SchemaVersionOffset..], Features.SchemaVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(blob[ModelFormat.HashSeedOffset..], Features.HashSeed);
        blob[ModelFormat.PrecisionOffset] = (byte)precision;
        blob[ModelFormat.FlagsOffset] = (byte)flags;
        BinaryPrimitives.WriteUInt32LittleEndian(blob[ModelFormat.TagsOffsetOffset..], (uint)tagsOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(blob[ModelFormat.WeightsOffsetOffset..], (uint)weightsOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(blob[ModelFormat.VariancesOffsetOffset..], (uint)variancesOffset);
        BinaryPrimitives.WriteSingleLittleEndian(blob[ModelFormat.PriorMeanOffset..], PriorMean);

        if (precision == WeightPrecision.Int8)
        {
            // A zero int8 weight is stored as the offset: padding images and padding features must hold it too.
            blob.Slice(weightsOffset, section).Fill(ModelFormat.Int8Offset);
            if (withVariances)
            {
                blob.Slice(variancesOffset, section).Fill(ModelFormat.Int8Offset);
            }
        }

        var table = blob[ModelFormat.HeaderSize..];
        var ids = MemoryMarshal.Cast<byte, uint>(table.Slice(0, kp * 4));
        var biases = MemoryMarshal.Cast<byte, float>(table.Slice(kp * 4, kp * 4));
        var weightScales = MemoryMarshal.Cast<byte, float>(table.Slice(kp * 8, kp * 4));
        var biasVariances = MemoryMarshal.Cast<byte, float>(table.Slice(kp * 12, kp * 4));
        var varianceScales = MemoryMarshal.Cast<byte, float>(table.Slice(kp * 16, kp * 4));
        var imageFlags = table.Slice(kp * 20, kp);
        for (var i = 0; i < k; i++)
        {
            var image = Images[i];
            ids[i] = image.Id;
            biases[i] = image.Bias;
            biasVariances[i] = image.BiasVariance;
            imageFlags[i] = (byte)(image.Cold ? Models.ImageFlags.Cold : Models.ImageFlags.None);
            weightScales[i] = WriteColumn(blob.Slice(weightsOffset, section), precision, kp, i, image.Weights);
            varianceScales[i] = withVariances ? WriteColumn(blob.Slice(variancesOffset, section), precision, kp, i, image.Variances) : 0f;
        }

        var pos = tagsOffset;
        foreach (var image in Images)
        {
            blob[pos++] = (byte)image.Tags.Length;
            foreach (var tag in image.Tags)
            {
                var len = Encoding.UTF8.GetBytes(tag, blob[(pos + 1)..]);
                blob[pos] = (byte)len;
                pos += 1 + len;
            }
        }

        BinaryPrimitives.WriteUInt32LittleEndian(blob[ModelFormat.ChecksumOffset..], ModelView.ComputeChecksum(blob));
    }

    // Writes image i's column of a section (element order: ModelFormat.ElementIndex) and returns the per-image scale.
    private static float WriteColumn(Span<byte> section, WeightPrecision precision, int kp, int i, float[] values)
    {
        switch (precision)
        {
            case WeightPrecision.Float32:
                for (var j = 0; j < values.Length; j++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(section[(((j * kp) + i) * 4)..], values[j]);
                }

                return 1f;
            case WeightPrecision.BFloat16:
                for (var j = 0; j < values.Length; j++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(section[(((j * kp) + i) * 2)..], ToBFloat16(values[j]));
                }

                return 1f;
            default:
                // Symmetric per-image quantization: the largest |w| maps to 127, so the rounding error of any
                // weight is at most scale / 2 = max|w| / 254 (docs/model-format.md, "Precision").
                var max = 0f;
                foreach (var v in values)
                {
                    max = Math.Max(max, Math.Abs(v));
                }

                var scale = max > 0 ? max / 127f : 1f;
                for (var j = 0; j < values.Length; j++)
                {
                    var q = (int)Math.Clamp(MathF.Round(values[j] / scale), -127f, 127f);
                    section[ModelFormat.ElementIndex(precision, kp, j, i)] = (byte)(q + ModelFormat.Int8Offset);
                }

                return scale;
        }
    }
}

/// <summary>
/// The prior a new title or image starts from (docs/model-format.md, "Cold start"): its score mean is the title's
/// mean take rate and its uncertainty is wide, so Thompson sampling and UCB try it early.
/// </summary>
/// <param name="BiasVariance">Variance of the bias (the score's own uncertainty with an all-zero feature vector).</param>
/// <param name="WeightVariance">Variance of each weight.</param>
public readonly record struct ColdStartPrior(float BiasVariance, float WeightVariance)
{
    /// <summary>The default prior: a take-rate standard deviation of 0.1 on the bias and 0.01 per weight.</summary>
    public static ColdStartPrior Default => new(0.01f, 0.0001f);
}
