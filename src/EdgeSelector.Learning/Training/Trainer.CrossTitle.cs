using System.Runtime.InteropServices;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Learning.Join;

namespace EdgeSelector.Learning.Training;

/// <summary>The cross-title fit and its fold into the per-image weights (docs/learning.md, "Cross-title component").</summary>
public static partial class Trainer
{
    /// <summary>
    /// Folds the cross-title component into the images of <paramref name="models"/> that <paramref name="current"/>
    /// does not have (a catalog change): a new image starts from the cold prior plus what the component knows about
    /// its tags and its embedding, so a new comedy image leans to comedy fans from the first request on. Returns the
    /// number of new titles and new images.
    /// </summary>
    public static (int Titles, int Images) FoldIntoNewImages(
        List<TitleModel> models, IReadOnlyDictionary<uint, TitleModel> current, CrossTitleModel cross, ImageEmbeddings? embeddings = null)
    {
        int titles = 0, images = 0;
        var fold = new Folds(cross, cross, embeddings ?? new ImageEmbeddings());
        foreach (var model in models)
        {
            current.TryGetValue(model.TitleId, out var old);
            titles += old is null ? 1 : 0;
            var interacted = model.Features.SchemaVersion >= FeatureSpace.Schema2;
            foreach (var image in model.Images)
            {
                if (old is not null && old.Images.Exists(i => i.Id == image.Id))
                {
                    continue;
                }

                images++;
                var folded = fold.New(model.TitleId, image);
                folded.AddTo(image.Weights, interacted);
                image.Bias += (float)folded.Bias;
            }
        }

        return (titles, images);
    }

    private static void FitCrossTitle(
        IReadOnlyDictionary<uint, TitleModel> current, IReadOnlyList<LabeledExample> examples, double[] weights,
        Dictionary<uint, List<int>> byTitle, CrossTitleModel cross, ImageEmbeddings embeddings, TrainerOptions o, Forgetting forgetting)
    {
        if (byTitle.Count == 0)
        {
            return;
        }

        // The tags of the images shown in this run, most frequent first (known ones before new ones), capped.
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (titleId, list) in byTitle)
        {
            var model = current[titleId];
            foreach (var e in list)
            {
                foreach (var tag in model.Images.Find(i => i.Id == examples[e].Impression.ChosenImageId)!.Tags)
                {
                    counts[tag] = counts.GetValueOrDefault(tag) + 1;
                }
            }
        }

        var selected = counts.Keys
            .OrderByDescending(t => cross.IndexOf(t) >= 0)
            .ThenByDescending(t => counts[t])
            .ThenBy(t => t, StringComparer.Ordinal)
            .Take(o.MaxCrossTitleTags)
            .ToList();
        var embeddingDimension = embeddings.Vectors.Count > 0 ? embeddings.Dimension : 0;
        if (selected.Count == 0 && embeddingDimension == 0)
        {
            return;
        }

        // Slot of each selected tag in this run's regression, by its index in the component; the embedding's
        // dimensions come after the tags.
        var slotOf = new Dictionary<int, int>();
        foreach (var tag in selected)
        {
            slotOf[cross.Ensure(tag, o.CrossTitlePriorVariance)] = slotOf.Count;
        }

        if (embeddingDimension > 0)
        {
            cross.EnsureEmbedding(embeddingDimension, o.CrossTitlePriorVariance);
        }

        var tagSlots = slotOf.Count;
        const int Per = CrossTitleModel.PerTag;
        var regression = new DiagonalBayesianRegression((tagSlots + embeddingDimension) * Per);
        var indices = new List<int>();
        var values = new List<double>();
        var sorted = new SortedDictionary<int, double>();
        long n = 0, pos = 0;
        foreach (var (titleId, list) in byTitle)
        {
            var model = current[titleId];
            var titleMean = TitleMean(examples, list);
            foreach (var e in list)
            {
                var imp = examples[e].Impression;
                var image = model.Images.Find(i => i.Id == imp.ChosenImageId)!;
                imp.GetContexts(out var member, out var title);
                sorted.Clear();
                foreach (var tag in image.Tags)
                {
                    if (slotOf.TryGetValue(cross.IndexOf(tag), out var slot))
                    {
                        AddFeature(sorted, slot * Per, 1.0, member, title.Interacted);
                    }
                }

                var vector = embeddings.Of(titleId, image.Id);
                if (vector.Length == embeddingDimension)
                {
                    for (var k = 0; k < vector.Length; k++)
                    {
                        AddFeature(sorted, (tagSlots + k) * Per, vector[k], member, title.Interacted);
                    }
                }

                indices.Clear();
                values.Clear();
                foreach (var (k, v) in sorted)
                {
                    indices.Add(k);
                    values.Add(v);
                }

                var y = examples[e].Label ? 1.0 : 0.0;
                regression.Add(CollectionsMarshal.AsSpan(indices), CollectionsMarshal.AsSpan(values), y - titleMean, weights[e]);
                n++;
                pos += examples[e].Label ? 1 : 0;
            }
        }

        var p = (double)pos / Math.Max(1, n);
        var noise = Math.Max(p * (1 - p), o.MinNoiseVariance);
        var priorMean = new double[regression.Parameters];
        var priorVar = new double[regression.Parameters];
        foreach (var (t, slot) in slotOf)
        {
            for (var k = 0; k < Per; k++)
            {
                priorMean[(slot * Per) + k] = cross.Mean[(t * Per) + k];
                priorVar[(slot * Per) + k] = forgetting.Inflate(cross.Variance[(t * Per) + k], o.CrossTitlePriorVariance);
            }
        }

        for (var k = 0; k < embeddingDimension * Per; k++)
        {
            priorMean[(tagSlots * Per) + k] = cross.EmbeddingMean[k];
            priorVar[(tagSlots * Per) + k] = forgetting.Inflate(cross.EmbeddingVariance[k], o.CrossTitlePriorVariance);
        }

        var mean = new double[regression.Parameters];
        var variance = new double[regression.Parameters];
        regression.Solve(priorMean, priorVar, noise, mean, variance);
        foreach (var (t, slot) in slotOf)
        {
            for (var k = 0; k < Per; k++)
            {
                cross.Mean[(t * Per) + k] = mean[(slot * Per) + k];
                cross.Variance[(t * Per) + k] = variance[(slot * Per) + k];
            }
        }

        for (var k = 0; k < embeddingDimension * Per; k++)
        {
            cross.EmbeddingMean[k] = mean[(tagSlots * Per) + k];
            cross.EmbeddingVariance[k] = variance[(tagSlots * Per) + k];
        }
    }

    // One image feature of value v in a cross-title row: its bias v, v·x_g for each genre and, for a member who has
    // interacted with the title, v·x_g again on the genre × interacted coefficients.
    private static void AddFeature(SortedDictionary<int, double> row, int at, double v, in MemberContext member, bool interacted)
    {
        if (v == 0)
        {
            return;
        }

        row[at] = row.GetValueOrDefault(at) + v;
        for (var g = 0; g < MemberProfile.GenreCount; g++)
        {
            var a = Math.Clamp(member.Genres[g], -FeatureEncoder.NumericLimit, FeatureEncoder.NumericLimit);
            if (a == 0 || !float.IsFinite(a))
            {
                continue;
            }

            row[at + 1 + g] = row.GetValueOrDefault(at + 1 + g) + (v * a);
            if (interacted)
            {
                var k = at + CrossTitleModel.InteractedOffset + g;
                row[k] = row.GetValueOrDefault(k) + (v * a);
            }
        }
    }

    /// <summary>The previous and the new cross-title component, and the embeddings: what an image's fold is made of.</summary>
    private sealed class Folds(CrossTitleModel previous, CrossTitleModel next, ImageEmbeddings embeddings)
    {
        public FoldedImage New(uint titleId, ImageModel image) => FoldedImage.Of(next, titleId, image, embeddings);

        public FoldedImage Previous(uint titleId, ImageModel image) => FoldedImage.Of(previous, titleId, image, embeddings);
    }

    /// <summary>An image's share of the cross-title component: its bias and its genre and genre × interacted weights.</summary>
    private sealed class FoldedImage
    {
        private readonly double[] _genre = new double[MemberProfile.GenreCount];
        private readonly double[] _interacted = new double[MemberProfile.GenreCount];

        public double Bias { get; private set; }

        public static FoldedImage Of(CrossTitleModel cross, uint titleId, ImageModel image, ImageEmbeddings embeddings)
        {
            var f = new FoldedImage();
            cross.Fold(image.Tags, embeddings.Of(titleId, image.Id), f._genre, f._interacted, out var bias);
            f.Bias = bias;
            return f;
        }

        // Its part of the score of x (the genre × interacted weights only where the schema has the slots).
        public double Score(ReadOnlySpan<float> x, bool interacted)
        {
            var s = Bias;
            for (var g = 0; g < MemberProfile.GenreCount; g++)
            {
                s += _genre[g] * x[FeatureEncoder.GenreSlot + g];
                if (interacted)
                {
                    s += _interacted[g] * x[FeatureEncoder.InteractedGenreSlot + g];
                }
            }

            return s;
        }

        public void Subtract(Span<double> weights, bool interacted)
        {
            for (var g = 0; g < MemberProfile.GenreCount; g++)
            {
                weights[FeatureEncoder.GenreSlot + g] -= _genre[g];
                if (interacted)
                {
                    weights[FeatureEncoder.InteractedGenreSlot + g] -= _interacted[g];
                }
            }
        }

        public void AddTo(Span<float> weights, bool interacted)
        {
            for (var g = 0; g < MemberProfile.GenreCount; g++)
            {
                weights[FeatureEncoder.GenreSlot + g] += (float)_genre[g];
                if (interacted)
                {
                    weights[FeatureEncoder.InteractedGenreSlot + g] += (float)_interacted[g];
                }
            }
        }
    }
}
