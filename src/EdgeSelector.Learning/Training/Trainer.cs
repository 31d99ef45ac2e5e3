using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Learning.Join;

namespace EdgeSelector.Learning.Training;

/// <summary>Options of a training run (docs/learning.md).</summary>
public sealed record TrainerOptions
{
    /// <summary>Weight each example by 1/propensity (clipped, normalised to mean 1). Off by default: docs/learning.md says why.</summary>
    public bool InversePropensityWeighting { get; init; }

    /// <summary>Largest inverse-propensity weight before normalisation.</summary>
    public double MaxInverseWeight { get; init; } = 50;

    /// <summary>Learn and fold in the cross-title component.</summary>
    public bool CrossTitle { get; init; } = true;

    /// <summary>
    /// Most tags the cross-title component fits in one run (the most frequent among the run's examples; tags it knows
    /// already come first). Bounds the fit at (17 × this)² doubles whatever the catalog's tag vocabulary (one
    /// "cast:…" tag per actor would otherwise make it cubic in the cast).
    /// </summary>
    public int MaxCrossTitleTags { get; init; } = 64;

    /// <summary>Prior variance of a new cross-title coefficient.</summary>
    public double CrossTitlePriorVariance { get; init; } = 1e-2;

    /// <summary>Floor of the noise variance σ² of a title's labels (σ² = p̄(1 − p̄) otherwise).</summary>
    public double MinNoiseVariance { get; init; } = 1e-2;

    /// <summary>
    /// Prior variance of the genre-slot weights of an image's first fit (an image still flagged cold). The serving
    /// cold-start prior (1e-4, docs/model-format.md) is sized for Thompson sampling's exploration; as a training prior
    /// it would hold the genre weights near the cross-title fold for thousands of examples, so an image whose tags
    /// mislead (click-bait tagged "comedy") could not correct it. The other slots keep the narrow prior: with little
    /// data a wide prior on every context slot costs more in variance than it gains (measured in docs/learning.md).
    /// </summary>
    public double FirstFitWeightVariance { get; init; } = 1e-2;

    /// <summary>
    /// Added to every prior variance before an update (process noise): keeps the model able to follow drifting
    /// tastes instead of freezing as data accumulates. 0 = a stationary world.
    /// </summary>
    public double VarianceInflation { get; init; }
}

/// <summary>What a training run did, for the bundle manifest and people.</summary>
public sealed record TrainingReport
{
    /// <summary>Labelled examples used (their image still exists).</summary>
    public long Examples { get; init; }

    /// <summary>Examples labelled a take (quality play).</summary>
    public long Positives { get; init; }

    /// <summary>Examples dropped because their title or image is no longer in the models.</summary>
    public long SkippedUnknownImage { get; init; }

    /// <summary>Titles that had examples.</summary>
    public int TitlesTrained { get; init; }

    /// <summary>Images whose posterior was updated.</summary>
    public int ImagesTrained { get; init; }

    /// <summary>Tags the cross-title component knows after the run.</summary>
    public int CrossTitleTags { get; init; }

    /// <summary>Whether examples were weighted by inverse propensity.</summary>
    public bool InversePropensityWeighting { get; init; }

    /// <summary>Earliest impression time of the examples (unix ms; 0 without examples).</summary>
    public long FromMs { get; init; }

    /// <summary>Latest impression time of the examples (unix ms).</summary>
    public long ToMs { get; init; }

    /// <summary>Fraction of examples that were takes.</summary>
    public double MeanLabel { get; init; }

    /// <summary>The join's counters for this run (null when the caller joined elsewhere).</summary>
    public JoinCounters? Join { get; init; }

    /// <summary>The offline gate's decision (<c>edgesel train --gate</c>, issue 15); null without the gate.</summary>
    public Rollout.GateReport? Gate { get; init; }
}

/// <summary>What the trainer keeps between runs (in its state directory, next to the bundles).</summary>
public sealed record TrainerState
{
    /// <summary>Where the next read of the server's impression log starts.</summary>
    public long ImpressionsAddress { get; init; }

    /// <summary>Where the next read of the server's reward log starts.</summary>
    public long RewardsAddress { get; init; }

    /// <summary>Bundle version the last run produced.</summary>
    public ulong LastVersion { get; init; }
}

/// <summary>
/// Fits the per-title models from labelled examples (docs/learning.md): first the cross-title component on every
/// title's examples, then, per image, the Bayesian linear model of the residual, warm-started from the current
/// model; the cross-title part is folded into each image's weights. Writes new <see cref="TitleModel"/>s.
/// </summary>
public static class Trainer
{
    /// <summary>
    /// Trains on <paramref name="examples"/> starting from <paramref name="current"/> (every title to keep, with its
    /// images; titles without examples are carried over, re-folded with the new cross-title component).
    /// <paramref name="crossTitle"/> is updated in place (pass the previous run's, or a new one).
    /// </summary>
    public static (List<TitleModel> Models, TrainingReport Report) Train(
        IReadOnlyDictionary<uint, TitleModel> current, IReadOnlyList<LabeledExample> examples, CrossTitleModel crossTitle,
        ulong version, TrainerOptions? options = null)
    {
        var o = options ?? new TrainerOptions();
        var weights = ExampleWeights(examples, o);
        var previousCross = new CrossTitleModel { Tags = [.. crossTitle.Tags], Mean = [.. crossTitle.Mean], Variance = [.. crossTitle.Variance] };

        // Group by title, keeping only examples whose image the current model still has.
        var byTitle = new Dictionary<uint, List<int>>();
        long skipped = 0, positives = 0;
        long from = long.MaxValue, to = long.MinValue;
        for (var e = 0; e < examples.Count; e++)
        {
            var imp = examples[e].Impression;
            if (!current.TryGetValue(imp.TitleId, out var model) || model.Images.FindIndex(i => i.Id == imp.ChosenImageId) < 0)
            {
                skipped++;
                continue;
            }

            if (!byTitle.TryGetValue(imp.TitleId, out var list))
            {
                byTitle[imp.TitleId] = list = [];
            }

            list.Add(e);
            positives += examples[e].Label ? 1 : 0;
            from = Math.Min(from, imp.TimestampMs);
            to = Math.Max(to, imp.TimestampMs);
        }

        if (o.CrossTitle)
        {
            FitCrossTitle(current, examples, weights, byTitle, crossTitle, o);
        }

        var models = new List<TitleModel>(current.Count);
        var imagesTrained = 0;
        foreach (var (titleId, model) in current.OrderBy(kv => kv.Key))
        {
            byTitle.TryGetValue(titleId, out var indices);
            imagesTrained += FitTitle(model, examples, weights, indices ?? [], previousCross, o.CrossTitle ? crossTitle : previousCross, version, o, out var fitted);
            models.Add(fitted);
        }

        var used = examples.Count - skipped;
        var report = new TrainingReport
        {
            Examples = used,
            Positives = positives,
            SkippedUnknownImage = skipped,
            TitlesTrained = byTitle.Count,
            ImagesTrained = imagesTrained,
            CrossTitleTags = crossTitle.Tags.Count,
            InversePropensityWeighting = o.InversePropensityWeighting,
            FromMs = used > 0 ? from : 0,
            ToMs = used > 0 ? to : 0,
            MeanLabel = used > 0 ? (double)positives / used : 0,
        };
        return (models, report);
    }

    private static double[] ExampleWeights(IReadOnlyList<LabeledExample> examples, TrainerOptions o)
    {
        var weights = new double[examples.Count];
        if (!o.InversePropensityWeighting)
        {
            Array.Fill(weights, 1.0);
            return weights;
        }

        var sum = 0.0;
        for (var i = 0; i < weights.Length; i++)
        {
            var p = examples[i].Impression.Propensity;
            weights[i] = p > 0 ? Math.Min(1.0 / p, o.MaxInverseWeight) : o.MaxInverseWeight;
            sum += weights[i];
        }

        // Normalised to mean 1 so that the weights change the balance between examples, not the amount of evidence.
        var scale = weights.Length / Math.Max(sum, 1e-12);
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] *= scale;
        }

        return weights;
    }

    private static void FitCrossTitle(
        IReadOnlyDictionary<uint, TitleModel> current, IReadOnlyList<LabeledExample> examples, double[] weights,
        Dictionary<uint, List<int>> byTitle, CrossTitleModel cross, TrainerOptions o)
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
        if (selected.Count == 0)
        {
            return;
        }

        // Slot of each selected tag in this run's regression, by its index in the component.
        var slotOf = new Dictionary<int, int>();
        foreach (var tag in selected)
        {
            slotOf[cross.Ensure(tag, o.CrossTitlePriorVariance)] = slotOf.Count;
        }

        var regression = new DiagonalBayesianRegression(slotOf.Count * CrossTitleModel.PerTag);
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
                imp.GetContexts(out var member, out _);
                sorted.Clear();
                foreach (var tag in image.Tags)
                {
                    if (!slotOf.TryGetValue(cross.IndexOf(tag), out var slot))
                    {
                        continue;
                    }

                    var at = slot * CrossTitleModel.PerTag;
                    sorted[at] = 1.0;
                    for (var g = 0; g < MemberProfile.GenreCount; g++)
                    {
                        var a = Math.Clamp(member.Genres[g], -FeatureEncoder.NumericLimit, FeatureEncoder.NumericLimit);
                        if (a != 0 && float.IsFinite(a))
                        {
                            sorted[at + 1 + g] = a;
                        }
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
                regression.Add(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(indices), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(values), y - titleMean, weights[e]);
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
            for (var k = 0; k < CrossTitleModel.PerTag; k++)
            {
                priorMean[(slot * CrossTitleModel.PerTag) + k] = cross.Mean[(t * CrossTitleModel.PerTag) + k];
                priorVar[(slot * CrossTitleModel.PerTag) + k] = cross.Variance[(t * CrossTitleModel.PerTag) + k] + o.VarianceInflation;
            }
        }

        var mean = new double[regression.Parameters];
        var variance = new double[regression.Parameters];
        regression.Solve(priorMean, priorVar, noise, mean, variance);
        foreach (var (t, slot) in slotOf)
        {
            for (var k = 0; k < CrossTitleModel.PerTag; k++)
            {
                cross.Mean[(t * CrossTitleModel.PerTag) + k] = mean[(slot * CrossTitleModel.PerTag) + k];
                cross.Variance[(t * CrossTitleModel.PerTag) + k] = variance[(slot * CrossTitleModel.PerTag) + k];
            }
        }
    }

    private static double TitleMean(IReadOnlyList<LabeledExample> examples, List<int> list)
    {
        var s = 0;
        foreach (var e in list)
        {
            s += examples[e].Label ? 1 : 0;
        }

        return (double)s / Math.Max(1, list.Count);
    }

    // Returns the number of images that had examples.
    private static int FitTitle(
        TitleModel model, IReadOnlyList<LabeledExample> examples, double[] weights, List<int> list,
        CrossTitleModel previousCross, CrossTitleModel cross, ulong version, TrainerOptions o, out TitleModel fitted)
    {
        var d = model.Features.Dimension;
        fitted = new TitleModel(model.TitleId, version, model.DefaultImageId, model.Features)
        {
            PriorMean = model.PriorMean,
            ColdTitle = model.ColdTitle && list.Count == 0,
        };
        var posteriors = new ImagePosterior?[model.Images.Count];
        var x = new float[d];
        var foldOld = new double[MemberProfile.GenreCount];
        var foldNew = new double[MemberProfile.GenreCount];
        var foldNewBias = new double[model.Images.Count];
        var foldNewWeights = new double[model.Images.Count][];
        for (var i = 0; i < model.Images.Count; i++)
        {
            cross.Fold(model.Images[i].Tags, foldNew, out foldNewBias[i]);
            foldNewWeights[i] = [.. foldNew];
        }

        foreach (var e in list)
        {
            var imp = examples[e].Impression;
            var i = model.Images.FindIndex(im => im.Id == imp.ChosenImageId);
            imp.GetContexts(out var member, out var title);
            if (!FeatureEncoder.TryEncode(model.Features, member, title, x))
            {
                continue;
            }

            // The per-image model learns what the folded cross-title part does not explain.
            var folded = foldNewBias[i];
            for (var g = 0; g < MemberProfile.GenreCount; g++)
            {
                folded += foldNewWeights[i][g] * x[FeatureEncoder.GenreSlot + g];
            }

            (posteriors[i] ??= new ImagePosterior(d)).Add(x, (examples[e].Label ? 1.0 : 0.0) - folded, weights[e]);
        }

        var titleMean = TitleMean(examples, list);
        if (list.Count >= 100)
        {
            fitted.PriorMean = (float)titleMean;
        }

        var noise = Math.Max(titleMean * (1 - titleMean), o.MinNoiseVariance);
        var priorMean = new double[d + 1];
        var priorVar = new double[d + 1];
        var mean = new double[d + 1];
        var variance = new double[d + 1];
        var trained = 0;
        for (var i = 0; i < model.Images.Count; i++)
        {
            var old = model.Images[i];
            previousCross.Fold(old.Tags, foldOld, out var foldOldBias);

            // Own part of the current model = its weights minus what the previous cross-title component folded in.
            for (var j = 0; j < d; j++)
            {
                priorMean[j] = old.Weights[j];
                var genreSlot = j is >= FeatureEncoder.GenreSlot and < FeatureEncoder.GenreSlot + MemberProfile.GenreCount;
                priorVar[j] = (old.Cold && genreSlot ? Math.Max(old.Variances[j], o.FirstFitWeightVariance) : old.Variances[j]) + o.VarianceInflation;
            }

            for (var g = 0; g < MemberProfile.GenreCount; g++)
            {
                priorMean[FeatureEncoder.GenreSlot + g] -= foldOld[g];
            }

            priorMean[d] = old.Bias - foldOldBias;
            priorVar[d] = old.BiasVariance + o.VarianceInflation;

            var image = new ImageModel(old.Id, d, old.Tags) { Cold = old.Cold };
            var posterior = posteriors[i];
            if (posterior is not null)
            {
                posterior.Solve(priorMean, priorVar, noise, mean, variance);
                image.Cold = false;
                trained++;
            }
            else
            {
                // No new data: the own part is unchanged; only the cross-title fold is refreshed.
                priorMean.CopyTo(mean, 0);
                for (var j = 0; j < d; j++)
                {
                    variance[j] = old.Variances[j];
                }

                variance[d] = old.BiasVariance;
            }

            for (var j = 0; j < d; j++)
            {
                image.Weights[j] = (float)mean[j];
                image.Variances[j] = (float)Math.Max(variance[j], 0);
            }

            for (var g = 0; g < MemberProfile.GenreCount; g++)
            {
                image.Weights[FeatureEncoder.GenreSlot + g] += (float)foldNewWeights[i][g];
            }

            image.Bias = (float)(mean[d] + foldNewBias[i]);
            image.BiasVariance = (float)Math.Max(variance[d], 0);
            fitted.Images.Add(image);
        }

        return trained;
    }
}
