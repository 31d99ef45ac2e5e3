using System.Text.Json;

namespace EdgeSelector.Learning.Training;

/// <summary>
/// One vector per image from a vision model run outside (docs/catalog.md, <c>embedding</c>): the cross-title component
/// learns member taste × embedding, so a new image without data or a hand-written tag starts from what similar images
/// earned. Control-plane data only: the fold puts what it learnt into the image's weights and serving never sees the
/// vectors. Kept by the trainer in <c>&lt;models&gt;/trainer/embeddings.json</c>, taken from the catalog.
/// </summary>
public sealed class ImageEmbeddings
{
    /// <summary>The largest embedding dimension taken (the cross-title fit grows with its square).</summary>
    public const int MaxDimension = 64;

    /// <summary>Length of every vector (0 when there are none).</summary>
    public int Dimension { get; set; }

    /// <summary>Vectors by <see cref="Key"/> (title id, image id): image ids are unique only within a title.</summary>
    public Dictionary<ulong, float[]> Vectors { get; set; } = [];

    /// <summary>The key of an image: title id in the high 32 bits, image id in the low.</summary>
    public static ulong Key(uint titleId, uint imageId) => ((ulong)titleId << 32) | imageId;

    /// <summary>The image's vector, or empty when it has none.</summary>
    public ReadOnlySpan<float> Of(uint titleId, uint imageId) => Vectors.TryGetValue(Key(titleId, imageId), out var v) ? v : default;

    /// <summary>Adds or replaces a vector; throws <see cref="ArgumentException"/> when its length or a value is wrong.</summary>
    public void Set(uint titleId, uint imageId, float[] vector)
    {
        if (vector.Length is 0 or > MaxDimension || (Dimension != 0 && vector.Length != Dimension))
        {
            throw new ArgumentException($"image {imageId}: an embedding has 1 to {MaxDimension} values, all of the same length ({(Dimension == 0 ? "first one" : Dimension.ToString(System.Globalization.CultureInfo.InvariantCulture))}), not {vector.Length}");
        }

        if (Array.Exists(vector, v => !float.IsFinite(v)))
        {
            throw new ArgumentException($"image {imageId}: an embedding value is not a finite number");
        }

        Dimension = vector.Length;
        Vectors[Key(titleId, imageId)] = vector;
    }

    /// <summary>Serialises to JSON (source-generated).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, TrainingJsonContext.Default.ImageEmbeddings);

    /// <summary>Reads JSON written by <see cref="ToJson"/>; throws <see cref="InvalidDataException"/> on a malformed file.</summary>
    public static ImageEmbeddings FromJson(string json)
    {
        var read = JsonSerializer.Deserialize(json, TrainingJsonContext.Default.ImageEmbeddings) ?? new ImageEmbeddings();
        var checkedCopy = new ImageEmbeddings();
        try
        {
            foreach (var (key, v) in read.Vectors)
            {
                checkedCopy.Set((uint)(key >> 32), (uint)key, v);
            }
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException("embeddings: " + e.Message, e);
        }

        return checkedCopy;
    }
}
