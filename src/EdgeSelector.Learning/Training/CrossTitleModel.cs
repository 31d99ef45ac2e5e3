using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeSelector.Core.Features;

namespace EdgeSelector.Learning.Training;

/// <summary>
/// The cross-title component (docs/learning.md): for every image tag t a bias c_t and a preference A[g, t] of
/// members with affinity for genre g, learnt from the examples of every title. An image with tags T contributes
/// Σ_{t∈T} (c_t + Σ_g A[g,t]·x_g) to its score, which is linear in the genre slots of the serving vector, so it is
/// folded into the image's own weights (<see cref="Fold"/>): serving still does one dot product per image.
/// </summary>
public sealed class CrossTitleModel
{
    /// <summary>Coefficients per tag: the bias, then one per genre.</summary>
    public const int PerTag = 1 + MemberProfile.GenreCount;

    /// <summary>Tag vocabulary, in coefficient order.</summary>
    public List<string> Tags { get; init; } = [];

    /// <summary>Posterior means, <see cref="PerTag"/> per tag.</summary>
    public List<double> Mean { get; init; } = [];

    /// <summary>Posterior variances (diagonal), <see cref="PerTag"/> per tag.</summary>
    public List<double> Variance { get; init; } = [];

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

    /// <summary>The component's contribution to an image with <paramref name="tags"/>: added to the bias and genre-slot weights.</summary>
    public void Fold(IReadOnlyList<string> tags, Span<double> genreWeights, out double bias)
    {
        genreWeights.Clear();
        bias = 0;
        foreach (var tag in tags)
        {
            var t = Tags.IndexOf(tag);
            if (t < 0)
            {
                continue;
            }

            bias += Mean[t * PerTag];
            for (var g = 0; g < MemberProfile.GenreCount; g++)
            {
                genreWeights[g] += Mean[(t * PerTag) + 1 + g];
            }
        }
    }

    /// <summary>Serialises to JSON (source-generated).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, TrainingJsonContext.Default.CrossTitleModel);

    /// <summary>Reads JSON written by <see cref="ToJson"/>.</summary>
    public static CrossTitleModel FromJson(string json) =>
        JsonSerializer.Deserialize(json, TrainingJsonContext.Default.CrossTitleModel) ?? new CrossTitleModel();
}

/// <summary>Source-generated JSON metadata of the trainer's state and reports (native AOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(CrossTitleModel))]
[JsonSerializable(typeof(TrainingReport))]
[JsonSerializable(typeof(TrainerState))]
public sealed partial class TrainingJsonContext : JsonSerializerContext;
