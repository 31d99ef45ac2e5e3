using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeSelector.Core.Features;

namespace EdgeSelector.Learning.Training;

/// <summary>
/// The cross-title component (docs/learning.md): what an image's <b>features</b> — its tags, and the dimensions of its
/// embedding when the catalog has one — are worth, learnt from the examples of every title. For each feature f of
/// value v (1 for a tag, the coordinate for an embedding dimension) it has a bias c_f, a preference A[g, f] of
/// members with affinity for genre g, and B[g, f], how that preference changes when the member has interacted with
/// the title before. An image contributes Σ_f v_f·(c_f + Σ_g A[g,f]·x_g + Σ_g B[g,f]·x_g·interacted) to its score:
/// linear in the serving vector's genre slots and (schema 2) genre × interacted slots, so it is folded into the
/// image's own weights (<see cref="Fold(IReadOnlyList{string}, ReadOnlySpan{float}, Span{double}, Span{double}, out double)"/>)
/// and serving still does one dot product per image.
/// </summary>
public sealed class CrossTitleModel
{
    /// <summary>Coefficients per feature: the bias, one per genre, one per genre × interacted.</summary>
    public const int PerTag = 1 + (2 * MemberProfile.GenreCount);

    /// <summary>Offset of the genre × interacted coefficients within a feature's block.</summary>
    public const int InteractedOffset = 1 + MemberProfile.GenreCount;

    /// <summary>The layout this build writes (2: <see cref="PerTag"/> = 33; layout 1 had 17, without the interacted part).</summary>
    public const int CurrentLayout = 2;

    private const int Layout1PerTag = 1 + MemberProfile.GenreCount;

    /// <summary>Layout of the coefficient blocks (files written before layouts were numbered lack it: layout 1, 17 per tag).</summary>
    public int Layout { get; set; } = CurrentLayout;

    /// <summary>Tag vocabulary, in coefficient order.</summary>
    public List<string> Tags { get; init; } = [];

    /// <summary>Posterior means, <see cref="PerTag"/> per tag.</summary>
    public List<double> Mean { get; init; } = [];

    /// <summary>Posterior variances (diagonal), <see cref="PerTag"/> per tag.</summary>
    public List<double> Variance { get; init; } = [];

    /// <summary>Dimension of the image embeddings the embedding coefficients belong to (0 = none learnt yet).</summary>
    public int EmbeddingDimension { get; set; }

    // Settable, not init-only: source-generated System.Text.Json sets every init-only property, so a file written
    // before embeddings existed would read them as null instead of keeping the empty default.

    /// <summary>Posterior means of the embedding coefficients, <see cref="PerTag"/> per dimension.</summary>
    public List<double> EmbeddingMean { get; set; } = [];

    /// <summary>Posterior variances of the embedding coefficients, <see cref="PerTag"/> per dimension.</summary>
    public List<double> EmbeddingVariance { get; set; } = [];

    /// <summary>Index of a tag, or -1.</summary>
    public int IndexOf(string tag) => Tags.IndexOf(tag);

    /// <summary>Adds a tag on the prior (mean 0) if it is new; returns its index.</summary>
    public int Ensure(string tag, double priorVariance)
    {
        var i = Tags.IndexOf(tag);
        if (i >= 0)
        {
            return i;
        }

        Tags.Add(tag);
        for (var k = 0; k < PerTag; k++)
        {
            Mean.Add(0);
            Variance.Add(priorVariance);
        }

        return Tags.Count - 1;
    }

    /// <summary>
    /// Makes room for embeddings of <paramref name="dimension"/> on the prior. Embeddings of another dimension come
    /// from another vision model: their coefficients mean nothing for the new one and start over.
    /// </summary>
    public void EnsureEmbedding(int dimension, double priorVariance)
    {
        if (EmbeddingDimension == dimension)
        {
            return;
        }

        EmbeddingDimension = dimension;
        EmbeddingMean.Clear();
        EmbeddingVariance.Clear();
        for (var k = 0; k < dimension * PerTag; k++)
        {
            EmbeddingMean.Add(0);
            EmbeddingVariance.Add(priorVariance);
        }
    }

    /// <summary>
    /// The component's contribution to an image with <paramref name="tags"/> and <paramref name="embedding"/> (empty
    /// when it has none): added to its bias, its genre-slot weights and its genre × interacted weights (schema 2).
    /// </summary>
    public void Fold(IReadOnlyList<string> tags, ReadOnlySpan<float> embedding, Span<double> genreWeights, Span<double> interactedWeights, out double bias)
    {
        genreWeights.Clear();
        interactedWeights.Clear();
        bias = 0;
        foreach (var tag in tags)
        {
            var t = Tags.IndexOf(tag);
            if (t >= 0)
            {
                Add(Mean, t * PerTag, 1.0, genreWeights, interactedWeights, ref bias);
            }
        }

        if (embedding.Length == EmbeddingDimension)
        {
            for (var e = 0; e < embedding.Length; e++)
            {
                Add(EmbeddingMean, e * PerTag, embedding[e], genreWeights, interactedWeights, ref bias);
            }
        }
    }

    /// <summary>The tag-only fold of the genre slots (an image without an embedding, a schema-1 model).</summary>
    public void Fold(IReadOnlyList<string> tags, Span<double> genreWeights, out double bias) =>
        Fold(tags, default, genreWeights, stackalloc double[MemberProfile.GenreCount], out bias);

    /// <summary>Serialises to JSON (source-generated).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, TrainingJsonContext.Default.CrossTitleModel);

    /// <summary>
    /// Reads JSON written by <see cref="ToJson"/>. A layout-1 file (17 coefficients per tag, before the interacted
    /// part) is upgraded in place: its coefficients are kept and the new ones start at 0 with
    /// <paramref name="priorVariance"/>. An unknown layout is refused with <see cref="InvalidDataException"/>.
    /// </summary>
    public static CrossTitleModel FromJson(string json, double priorVariance = 1e-2)
    {
        var model = JsonSerializer.Deserialize(json, TrainingJsonContext.Default.CrossTitleModel) ?? new CrossTitleModel();
        // A layout-1 file has no "layout" key (the default then reads 2): it is told apart by its block size.
        if (model.Tags.Count > 0 && model.Mean.Count == model.Tags.Count * Layout1PerTag)
        {
            var mean = model.Mean.ToArray();
            var variance = model.Variance.ToArray();
            model.Mean.Clear();
            model.Variance.Clear();
            for (var t = 0; t < model.Tags.Count; t++)
            {
                for (var k = 0; k < PerTag; k++)
                {
                    var old = k < Layout1PerTag;
                    model.Mean.Add(old ? mean[(t * Layout1PerTag) + k] : 0);
                    model.Variance.Add(old ? variance[(t * Layout1PerTag) + k] : priorVariance);
                }
            }

            model.Layout = CurrentLayout;
        }

        if (model.Layout != CurrentLayout || model.Mean.Count != model.Tags.Count * PerTag || model.Variance.Count != model.Mean.Count
            || model.EmbeddingMean.Count != model.EmbeddingDimension * PerTag || model.EmbeddingVariance.Count != model.EmbeddingMean.Count)
        {
            throw new InvalidDataException(
                $"cross-title state: layout {model.Layout} with {model.Tags.Count} tags and {model.Mean.Count} coefficients is not one this build reads (layout {CurrentLayout}: {PerTag} per tag)");
        }

        return model;
    }

    /// <summary>A deep copy (the trainer keeps the previous run's component to take its fold back out).</summary>
    public CrossTitleModel Clone() => new()
    {
        Layout = Layout,
        Tags = [.. Tags],
        Mean = [.. Mean],
        Variance = [.. Variance],
        EmbeddingDimension = EmbeddingDimension,
        EmbeddingMean = [.. EmbeddingMean],
        EmbeddingVariance = [.. EmbeddingVariance],
    };

    private static void Add(List<double> mean, int at, double value, Span<double> genreWeights, Span<double> interactedWeights, ref double bias)
    {
        bias += value * mean[at];
        for (var g = 0; g < MemberProfile.GenreCount; g++)
        {
            genreWeights[g] += value * mean[at + 1 + g];
            interactedWeights[g] += value * mean[at + InteractedOffset + g];
        }
    }
}

/// <summary>Source-generated JSON metadata of the trainer's state and reports (native AOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(CrossTitleModel))]
[JsonSerializable(typeof(TrainingReport))]
[JsonSerializable(typeof(TrainerState))]
[JsonSerializable(typeof(ImageEmbeddings))]
public sealed partial class TrainingJsonContext : JsonSerializerContext;
