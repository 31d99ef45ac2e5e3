using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;

namespace EdgeSelector.Learning.Training;

/// <summary>How <see cref="LoopSimulation.Run(LoopWorld, LoopRunOptions)"/> runs the loop (docs/learning.md, sections 7-8).</summary>
public sealed record LoopRunOptions
{
    /// <summary>Impressions (title decisions) to serve.</summary>
    public long Impressions { get; init; } = 100_000;

    /// <summary>Impressions between two training runs (each warm-starts from the last).</summary>
    public long RetrainEvery { get; init; } = 10_000;

    /// <summary>Impression counts after whose retrain the greedy policy is measured (a retrain must fall on each).</summary>
    public IReadOnlyCollection<long> Checkpoints { get; init; } = [];

    /// <summary>Measure after every retrain from this impression on (0 = only at <see cref="Checkpoints"/>): drift curves.</summary>
    public long EvaluateEveryRetrainFrom { get; init; }

    /// <summary>Seed of the traffic and of the serving engine.</summary>
    public int Seed { get; init; } = 11;

    /// <summary>The trainer's options (its <see cref="TrainerOptions.PriorDataToMs"/> is filled in run by run).</summary>
    public TrainerOptions Trainer { get; init; } = new();

    /// <summary>The serving policy.</summary>
    public PolicyKind Policy { get; init; } = PolicyKind.EpsilonGreedy;

    /// <summary>ε of ε-greedy serving.</summary>
    public float Epsilon { get; init; } = 0.1f;

    /// <summary>Fresh requests (or pages) per measurement.</summary>
    public int EvaluationRequests { get; init; } = 20_000;

    /// <summary>Traffic rate in simulated time (default 72,000: 20 impressions a second, as section 7's table).</summary>
    public double ImpressionsPerHour { get; init; } = 72_000;

    /// <summary>Titles per request: 1 = single selections, more = pages of distinct titles for one member.</summary>
    public int PageSize { get; init; } = 1;

    /// <summary>The page policy's penalty per shared tag, for serving and for the measured greedy policy (0 = off).</summary>
    public float PagePenalty { get; init; }

    /// <summary>Give the trainer the world's image embeddings.</summary>
    public bool Embeddings { get; init; }

    /// <summary>Impression count at which the world's new images enter service (0 = never).</summary>
    public long NewImagesAt { get; init; }

    /// <summary>How many first impressions of each new image are measured.</summary>
    public int NewImageFirstImpressions { get; init; } = 100;

    /// <summary>Feature schema of the models (2: with genre × interacted slots).</summary>
    public ushort Schema { get; init; } = FeatureSpace.CurrentSchema;
}

/// <summary>A segment's take fractions in one measurement.</summary>
/// <param name="Greedy">Expected take of the greedy policy of the trained models.</param>
/// <param name="Random">Expected take of the uniformly random policy.</param>
/// <param name="Optimal">Expected take of the best image for every request.</param>
/// <param name="Requests">Requests of the segment in the measurement.</param>
public readonly record struct SegmentTake(double Greedy, double Random, double Optimal, int Requests)
{
    /// <summary>Share of the best possible lift over random that the greedy policy reaches.</summary>
    public double LiftShare => Optimal > Random ? (Greedy - Random) / (Optimal - Random) : double.NaN;
}

/// <summary>What the first impressions of the images added during a run got.</summary>
/// <param name="Images">New images measured.</param>
/// <param name="Impressions">Their first impressions counted (up to <see cref="LoopRunOptions.NewImageFirstImpressions"/> each).</param>
/// <param name="Take">Mean expected take of those impressions.</param>
/// <param name="BestPossibleTake">Mean over the same requests of the best image's expected take.</param>
/// <param name="AtIntroduction">The greedy policy measured right after the images were added, before any of their data.</param>
public sealed record NewImageReport(int Images, long Impressions, double Take, double BestPossibleTake, LearningPoint AtIntroduction);

/// <summary>What <see cref="LoopSimulation.Run(LoopWorld, LoopRunOptions)"/> measured.</summary>
/// <param name="Points">One point per measurement, in order.</param>
/// <param name="NewImages">The new images' first impressions (null when none were added).</param>
public sealed record LoopRunResult(IReadOnlyList<LearningPoint> Points, NewImageReport? NewImages);
