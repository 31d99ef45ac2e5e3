using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;

namespace EdgeSelector.Learning.Training;

/// <summary>One row of the drift table: a world, a traffic rate and a forgetting half-life.</summary>
/// <param name="World">stationary, taste-shift, novelty or fatigue.</param>
/// <param name="ImpressionsPerHour">Traffic in simulated time (the trainer forgets by data age in hours).</param>
/// <param name="HalfLifeHours">The trainer's forgetting half-life (0 = never forget).</param>
/// <param name="Before">Greedy take over the last hour before the midpoint (the taste shift, where there is one).</param>
/// <param name="JustAfter">Greedy take at the first retrain after the midpoint.</param>
/// <param name="End">Greedy take over the run's last hour.</param>
/// <param name="Oracle">Best possible take at the end.</param>
/// <param name="Random">Random policy's take at the end.</param>
/// <param name="Recovery">Impressions after the shift until the greedy policy first reaches 80% of the new oracle's lift over random (null: not within the run).</param>
/// <param name="ServedSecondHalf">Take of what members were served (ε-greedy) over the second half.</param>
public sealed record DriftRow(
    string World, double ImpressionsPerHour, double HalfLifeHours, double Before, double JustAfter, double End, double Oracle, double Random,
    long? Recovery, double ServedSecondHalf);

/// <summary>One row of the page table.</summary>
/// <param name="RepeatPenalty">The world's page effect (take × (1 − this) per other same-themed title on the page).</param>
/// <param name="PagePenalty">The page policy's penalty per shared tag (0 = off).</param>
/// <param name="PageTake">Greedy pages with at least one quality play (expected share).</param>
/// <param name="TitleTake">Greedy take per title on those pages.</param>
/// <param name="ServedPageTake">The same as <paramref name="PageTake"/> for the pages served while learning (ε-greedy).</param>
public sealed record PageRow(double RepeatPenalty, float PagePenalty, double PageTake, double TitleTake, double ServedPageTake);

/// <summary>One row of the embedding table.</summary>
/// <param name="Policy">The serving policy.</param>
/// <param name="Embeddings">Whether the trainer had the catalog's image embeddings.</param>
/// <param name="NewImages">The new images' first impressions and the greedy policy when they were added.</param>
/// <param name="AfterTenThousand">The greedy policy 10,000 impressions after they were added.</param>
public sealed record EmbeddingRow(PolicyKind Policy, bool Embeddings, NewImageReport NewImages, LearningPoint AfterTenThousand);

/// <summary>One row of the prior-interaction table.</summary>
/// <param name="Schema">Feature schema of the models (1: no genre × interacted slots).</param>
/// <param name="Point">The greedy policy, overall and by segment.</param>
public sealed record InteractionRow(ushort Schema, LearningPoint Point);

/// <summary>
/// The measurements behind docs/learning.md, section 8 (<c>edgesel learning-curve --scenario …</c>): seeded worlds and
/// runs of <see cref="LoopSimulation"/>, each a few seconds; the tests assert smaller versions of the same.
/// </summary>
public static class LearningExperiments
{
    /// <summary>Forgetting half-lives the drift table compares (0 = never).</summary>
    public static readonly IReadOnlyList<double> HalfLives = [0, 168, 72, 48, 24, 8];

    /// <summary>The drift worlds (taste shift and novelty placed by the run's length).</summary>
    public static LoopWorldOptions DriftWorld(string name, double hours) => name switch
    {
        "stationary" => new LoopWorldOptions { Seed = 7 },
        "taste-shift" => new LoopWorldOptions { Seed = 7, TasteShiftAtMs = LoopWorld.StartMs + (long)(hours / 2 * 3_600_000) },
        "novelty" => new LoopWorldOptions { Seed = 7, NoveltyBoost = 0.2, NoveltyHalfLifeHours = 8, LaunchSpacingHours = hours / 2 / 20 },
        "fatigue" => new LoopWorldOptions { Seed = 7, FatigueImpressions = 3_000, FatigueHalfLifeHours = 24 },
        _ => throw new ArgumentException($"unknown drift world '{name}' (stationary, taste-shift, novelty, fatigue)", nameof(name)),
    };

    /// <summary>
    /// One drift run: <paramref name="impressions"/> at <paramref name="impressionsPerHour"/>, ε-greedy serving, a
    /// retrain every quarter hour (at least every 2,500 impressions), the greedy policy measured after every retrain of
    /// the second half (and the hour before it).
    /// </summary>
    public static DriftRow Drift(string world, double impressionsPerHour, double halfLifeHours, long impressions = 480_000, int seed = 11)
    {
        var hours = impressions / impressionsPerHour;
        var half = impressions / 2;
        var every = (long)Math.Max(impressionsPerHour / 4, 2_500);
        var result = LoopSimulation.Run(new LoopWorld(DriftWorld(world, hours)), new LoopRunOptions
        {
            Impressions = impressions,
            RetrainEvery = every,
            ImpressionsPerHour = impressionsPerHour,
            Seed = seed,
            Trainer = new TrainerOptions { ForgettingHalfLifeHours = halfLifeHours },
            EvaluateEveryRetrainFrom = half - (long)Math.Max(impressionsPerHour, every),
            EvaluationRequests = 3_000,
        });
        var points = result.Points;
        var hour = (int)Math.Max(1, impressionsPerHour / every);
        var before = points.Where(p => p.Impressions <= half).TakeLast(hour).ToList();
        var after = points.Where(p => p.Impressions > half).ToList();
        var recovered = after.FirstOrDefault(p => p.LiftShare >= 0.8);
        return new DriftRow(
            world, impressionsPerHour, halfLifeHours,
            before.Average(p => p.GreedyTake), after[0].GreedyTake, after.TakeLast(hour).Average(p => p.GreedyTake),
            after[^1].OptimalTake, after[^1].RandomTake,
            recovered.Impressions > 0 ? recovered.Impressions - half : null,
            after.Average(p => p.ServedTake));
    }

    /// <summary>
    /// Pages of four titles in a world where repeating a theme on a page costs <paramref name="repeatPenalty"/>: the loop
    /// served and measured with the page policy at <paramref name="pagePenalty"/> (0 = off), averaged over the last
    /// quarter of the run.
    /// </summary>
    public static PageRow Pages(double repeatPenalty, float pagePenalty, long impressions = 200_000, int seed = 11)
    {
        var result = LoopSimulation.Run(new LoopWorld(new LoopWorldOptions { Seed = 7, PageRepeatPenalty = repeatPenalty }), new LoopRunOptions
        {
            Impressions = impressions,
            RetrainEvery = 10_000,
            PageSize = 4,
            PagePenalty = pagePenalty,
            Seed = seed,
            EvaluateEveryRetrainFrom = impressions * 3 / 4,
            EvaluationRequests = 5_000,
        });
        var p = result.Points;
        return new PageRow(repeatPenalty, pagePenalty, p.Average(x => x.PageTake), p.Average(x => x.GreedyTake), p.Average(x => x.ServedPageTake));
    }

    /// <summary>
    /// Image embeddings for cold start: 100,000 impressions of the world with 8-dimensional embeddings, then two untagged
    /// images per title enter service; their first <paramref name="firstImpressions"/> impressions each are measured.
    /// </summary>
    public static EmbeddingRow Embeddings(PolicyKind policy, bool embeddings, int firstImpressions = 100, long before = 100_000, int seed = 11)
    {
        var world = new LoopWorld(new LoopWorldOptions { Seed = 7, EmbeddingDimension = 8, NewImagesPerTitle = 2 });
        var result = LoopSimulation.Run(world, new LoopRunOptions
        {
            Impressions = before + 10_000,
            RetrainEvery = 10_000,
            Seed = seed,
            Embeddings = embeddings,
            NewImagesAt = before,
            Policy = policy,
            Checkpoints = [before + 10_000],
            EvaluationRequests = 5_000,
            NewImageFirstImpressions = firstImpressions,
        });
        return new EmbeddingRow(policy, embeddings, result.NewImages!, result.Points[^1]);
    }

    /// <summary>
    /// Prior interaction: 30% of (member, title) pairs interacted before; for them the theme's pull is 0.3 of its usual
    /// strength and the key art adds 0.08 (they recognise it), so it is their best image. Models in
    /// <paramref name="schema"/>; the greedy policy by segment at each checkpoint.
    /// </summary>
    public static IEnumerable<InteractionRow> Interaction(ushort schema, IReadOnlyCollection<long> checkpoints, int requests = 20_000, int seed = 11)
    {
        var world = new LoopWorld(InteractionWorld);
        var result = LoopSimulation.Run(world, new LoopRunOptions
        {
            Impressions = checkpoints.Max(),
            RetrainEvery = 10_000,
            Seed = seed,
            Schema = schema,
            Checkpoints = checkpoints,
            EvaluationRequests = requests,
        });
        return result.Points.Select(p => new InteractionRow(schema, p));
    }

    /// <summary>The prior-interaction world of <see cref="Interaction"/>.</summary>
    public static LoopWorldOptions InteractionWorld => new()
    {
        Seed = 7,
        InteractedShare = 0.3,
        InteractedThemeFactor = 0.3,
        InteractedBase = 0.02,
        InteractedKeyArt = 0.08,
    };

    /// <summary>The schemas the interaction table compares.</summary>
    public static IReadOnlyList<ushort> Schemas => [FeatureSpace.Schema1, FeatureSpace.Schema2];
}
