using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Learning.Join;

namespace EdgeSelector.Learning.Training;

/// <summary>
/// Fits the per-title models from labelled examples (docs/learning.md): first the cross-title component on every
/// title's examples, then, per image, the Bayesian linear model of the residual, warm-started from the current
/// model; the cross-title part is folded into each image's weights. Evidence is forgotten at the configured
/// half-life (<see cref="TrainerOptions.ForgettingHalfLifeHours"/>). Writes new <see cref="TitleModel"/>s.
/// </summary>
public static partial class Trainer
{
    private const double MsPerHour = 3_600_000;

    /// <summary>
    /// Trains on <paramref name="examples"/> starting from <paramref name="current"/> (every title to keep, with its
    /// images; titles without examples are carried over, re-folded with the new cross-title component).
    /// <paramref name="crossTitle"/> is updated in place (pass the previous run's, or a new one);
    /// <paramref name="embeddings"/> are the catalog's image vectors (null or empty: tags only).
    /// </summary>
    public static (List<TitleModel> Models, TrainingReport Report) Train(
        IReadOnlyDictionary<uint, TitleModel> current, IReadOnlyList<LabeledExample> examples, CrossTitleModel crossTitle,
        ulong version, TrainerOptions? options = null, ImageEmbeddings? embeddings = null)
    {
        var o = (options ?? new TrainerOptions()).Validate();
        embeddings ??= new ImageEmbeddings();
        var previousCross = crossTitle.Clone();

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

        var used = examples.Count - skipped;
        var asOf = used > 0 ? to : o.PriorDataToMs;
        var forgetting = Forgetting.For(o, asOf);
        var weights = ExampleWeights(examples, o, forgetting);
        if (o.CrossTitle)
        {
            FitCrossTitle(current, examples, weights, byTitle, crossTitle, embeddings, o, forgetting);
        }

        var models = new List<TitleModel>(current.Count);
        var imagesTrained = 0;
        foreach (var (titleId, model) in current.OrderBy(kv => kv.Key))
        {
            byTitle.TryGetValue(titleId, out var indices);
            var fold = new Folds(previousCross, o.CrossTitle ? crossTitle : previousCross, embeddings);
            imagesTrained += FitTitle(model, examples, weights, indices ?? [], fold, version, o, forgetting, out var fitted);
            models.Add(fitted);
        }

        var report = new TrainingReport
        {
            Examples = used,
            Positives = positives,
            SkippedUnknownImage = skipped,
            TitlesTrained = byTitle.Count,
            ImagesTrained = imagesTrained,
            CrossTitleTags = crossTitle.Tags.Count,
            InversePropensityWeighting = o.InversePropensityWeighting,
            ForgettingHalfLifeHours = o.ForgettingHalfLifeHours,
            PriorAgeHours = forgetting.PriorAgeHours,
            FeatureSchema = current.Count > 0 ? current.Values.First().Features.SchemaVersion : FeatureSpace.CurrentSchema,
            ImagesWithEmbeddings = embeddings.Vectors.Count,
            FromMs = used > 0 ? from : 0,
            ToMs = used > 0 ? to : 0,
            MeanLabel = used > 0 ? (double)positives / used : 0,
        };
        return (models, report);
    }

    private static double[] ExampleWeights(IReadOnlyList<LabeledExample> examples, TrainerOptions o, Forgetting forgetting)
    {
        var weights = new double[examples.Count];
        if (!o.InversePropensityWeighting)
        {
            Array.Fill(weights, 1.0);
        }
        else
        {
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
        }

        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] *= forgetting.ExampleWeight(examples[i].Impression.TimestampMs);
        }

        return weights;
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
        TitleModel model, IReadOnlyList<LabeledExample> examples, double[] weights, List<int> list, Folds fold,
        ulong version, TrainerOptions o, Forgetting forgetting, out TitleModel fitted)
    {
        var d = model.Features.Dimension;
        var interacted = model.Features.SchemaVersion >= FeatureSpace.Schema2; // genre × interacted slots exist
        fitted = new TitleModel(model.TitleId, version, model.DefaultImageId, model.Features)
        {
            PriorMean = model.PriorMean,
            ColdTitle = model.ColdTitle && list.Count == 0,
        };
        var posteriors = new ImagePosterior?[model.Images.Count];
        var x = new float[d];
        var newFolds = new FoldedImage[model.Images.Count];
        for (var i = 0; i < model.Images.Count; i++)
        {
            newFolds[i] = fold.New(model.TitleId, model.Images[i]);
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
            var folded = newFolds[i].Score(x, interacted);
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
            var oldFold = fold.Previous(model.TitleId, old);

            // Own part of the current model = its weights minus what the previous cross-title component folded in;
            // its variances aged by the time since the prior's data (capped at the cold-start prior's).
            for (var j = 0; j < d; j++)
            {
                var genreLike = IsGenreSlot(j, interacted);
                var v = old.Cold && FirstFitSlot(j, interacted) ? Math.Max(old.Variances[j], o.FirstFitWeightVariance) : old.Variances[j];
                priorMean[j] = old.Weights[j];
                priorVar[j] = forgetting.Inflate(v, genreLike ? o.FirstFitWeightVariance : ColdStartPrior.Default.WeightVariance);
            }

            oldFold.Subtract(priorMean, interacted);
            priorMean[d] = old.Bias - oldFold.Bias;
            priorVar[d] = forgetting.Inflate(old.BiasVariance, ColdStartPrior.Default.BiasVariance);

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
                // No new data: the own part is unchanged and only the cross-title fold is refreshed. A trained image's
                // uncertainty ages; a cold one stays on its documented prior (it has no evidence to forget, and the
                // first fit's widening applies only when data arrives).
                priorMean.CopyTo(mean, 0);
                for (var j = 0; j < d; j++)
                {
                    variance[j] = old.Cold
                        ? old.Variances[j]
                        : forgetting.Inflate(old.Variances[j], IsGenreSlot(j, interacted) ? o.FirstFitWeightVariance : ColdStartPrior.Default.WeightVariance);
                }

                variance[d] = old.Cold ? old.BiasVariance : priorVar[d];
            }

            for (var j = 0; j < d; j++)
            {
                image.Weights[j] = (float)mean[j];
                image.Variances[j] = (float)Math.Max(variance[j], 0);
            }

            newFolds[i].AddTo(image.Weights, interacted);
            image.Bias = (float)(mean[d] + newFolds[i].Bias);
            image.BiasVariance = (float)Math.Max(variance[d], 0);
            fitted.Images.Add(image);
        }

        return trained;
    }

    // The genre slots, and (schema 2) the genre × interacted slots: where taste × theme lives, so where an image's first
    // fit is widest and where forgetting may widen the prior furthest.
    private static bool IsGenreSlot(int j, bool interacted) =>
        j < MemberProfile.GenreCount
        || (interacted && j is >= FeatureEncoder.InteractedGenreSlot and < FeatureEncoder.InteractedGenreSlot + MemberProfile.GenreCount);

    // Where an image's first fit takes the wide prior: the genre slots (taste × theme), and with schema 2 the
    // interacted flag and genre × interacted (how the theme's pull and the image's appeal change for members who know
    // the title). Every other context slot keeps the narrow serving prior (docs/learning.md measures why).
    private static bool FirstFitSlot(int j, bool interacted) =>
        IsGenreSlot(j, interacted) || (interacted && j == FeatureEncoder.InteractedSlot);

    /// <summary>How much old evidence counts in this run (<see cref="TrainerOptions.ForgettingHalfLifeHours"/>).</summary>
    private readonly record struct Forgetting(double HalfLifeHours, long AsOfMs, double PriorAgeHours)
    {
        public static Forgetting For(TrainerOptions o, long asOfMs)
        {
            var age = o.PriorDataToMs > 0 && asOfMs > o.PriorDataToMs ? (asOfMs - o.PriorDataToMs) / MsPerHour : 0;
            return new Forgetting(o.ForgettingHalfLifeHours, asOfMs, age);
        }

        // 2^(−age/h) for an example stamped timestampMs (age back from the run's newest example).
        public double ExampleWeight(long timestampMs) =>
            HalfLifeHours > 0 && timestampMs < AsOfMs ? Math.Pow(2, -(AsOfMs - timestampMs) / MsPerHour / HalfLifeHours) : 1.0;

        // The prior's variance with its precision halved every h hours of the prior's age, never past max(v, cap):
        // a long-unseen image becomes as uncertain as a new one, not more.
        public double Inflate(double variance, double cap) =>
            HalfLifeHours > 0 && PriorAgeHours > 0
                ? Math.Min(variance * Math.Pow(2, PriorAgeHours / HalfLifeHours), Math.Max(variance, cap))
                : variance;

    }
}
