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
    /// How fast the trainer forgets (docs/learning.md, "Forgetting"): evidence loses half its weight every this many
    /// hours of data age, so the models keep following tastes, life cycles and fatigue instead of freezing as data
    /// accumulates. An example's weight is 2^(−age/h) with age measured back from the run's newest example, and the
    /// prior (the previous bundle) has its precision halved every h hours between that bundle's newest example and
    /// this run's (variance inflation, capped at the cold-start prior). 0 = never forget (a stationary world).
    /// </summary>
    public double ForgettingHalfLifeHours { get; init; } = DefaultForgettingHalfLifeHours;

    /// <summary>The default half-life, chosen from the drift measurements in docs/learning.md.</summary>
    public const double DefaultForgettingHalfLifeHours = 72;

    /// <summary>
    /// Newest impression time (unix ms) of the data the current models were trained on: the parent bundle's
    /// <c>TrainingToMs</c>. 0 = unknown, the prior is not aged.
    /// </summary>
    public long PriorDataToMs { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> on an option out of range.</summary>
    public TrainerOptions Validate()
    {
        if (!(ForgettingHalfLifeHours >= 0) || double.IsInfinity(ForgettingHalfLifeHours))
        {
            throw new ArgumentException($"the forgetting half-life must be a finite number of hours >= 0 (0 = never forget), not {ForgettingHalfLifeHours}");
        }

        if (MaxCrossTitleTags < 0 || !(MaxInverseWeight >= 1) || !(MinNoiseVariance > 0) || !(CrossTitlePriorVariance > 0) || !(FirstFitWeightVariance > 0))
        {
            throw new ArgumentException("trainer options out of range");
        }

        return this;
    }
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

    /// <summary>The forgetting half-life the run used (hours; 0 = never forget).</summary>
    public double ForgettingHalfLifeHours { get; init; }

    /// <summary>Hours between the prior's data and this run's newest example (how far the prior was aged).</summary>
    public double PriorAgeHours { get; init; }

    /// <summary>Feature schema of the trained models (1, or 2 with genre × interacted slots).</summary>
    public int FeatureSchema { get; init; }

    /// <summary>Images with an embedding the cross-title component used (0 without embeddings).</summary>
    public int ImagesWithEmbeddings { get; init; }

    /// <summary>The quality-play rule the examples were labelled with (set by the caller that joined them).</summary>
    public string? QualityRule { get; init; }

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

    /// <summary>The fleet-wide take fraction per arm and the control plane's test (<c>edgesel train --nats</c> while a fleet candidate is tried); null otherwise.</summary>
    public Rollout.FleetRolloutReport? Rollout { get; init; }
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
