using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Join;

namespace EdgeSelector.Learning.Training;

/// <summary>One point of a learning curve.</summary>
/// <param name="Impressions">Impressions logged so far.</param>
/// <param name="GreedyTake">Expected take fraction of the greedy policy of the current models on fresh traffic.</param>
/// <param name="RandomTake">Expected take fraction of the uniformly random policy on the same traffic.</param>
/// <param name="OptimalTake">Expected take fraction of the best image for every request.</param>
/// <param name="ServedTake">Expected take fraction of what the exploring policy actually served in the last retrain interval.</param>
public readonly record struct LearningPoint(long Impressions, double GreedyTake, double RandomTake, double OptimalTake, double ServedTake = 0);

/// <summary>
/// The whole loop in one process, without sockets, on a <see cref="LoopWorld"/>: serve with the real
/// <see cref="SelectionEngine"/> over the serialized (int8) models, log impression records, respond, join, retrain
/// every <c>retrainEvery</c> impressions (warm start), and measure the greedy policy on fresh traffic. What produced
/// the table in docs/learning.md.
/// </summary>
public static class LoopSimulation
{
    /// <summary>Runs the loop; returns a point after every retrain listed in <paramref name="checkpoints"/>.</summary>
    public static List<LearningPoint> Run(
        LoopWorld world, long impressions, long retrainEvery, IReadOnlyCollection<long> checkpoints, int seed,
        TrainerOptions? options = null, PolicyKind policy = PolicyKind.EpsilonGreedy, float epsilon = 0.1f, int evaluationRequests = 20_000)
    {
        var rng = new Random(seed);
        var space = FeatureSpace.Default;
        ulong version = 1;
        var models = CatalogModelBuilder.Build(world.Catalog, version, space).ToDictionary(m => m.TitleId);
        var blobs = Serialize(models);
        var cross = new CrossTitleModel();
        var engine = new SelectionEngine(new SelectionOptions { Policy = policy, Epsilon = epsilon, Seed = (ulong)seed });
        var joiner = new RewardJoiner();
        var titles = world.TitleIds.ToArray();
        var points = new List<LearningPoint>();
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        ulong eventId = 1;
        double served = 0;
        long servedCount = 0;
        for (long n = 1; n <= impressions; n++)
        {
            var m = rng.Next(world.MemberCount);
            var titleId = titles[rng.Next(titles.Length)];
            var unixMs = start + (n * 50); // 20 impressions a simulated second: sticky draws change over the run
            var member = world.Member(m, (byte)rng.Next(24), (byte)rng.Next(7));
            var title = new TitleContext { TitleId = titleId, RecommenderScore = (float)rng.NextDouble() };
            if (!ModelView.TryOpen(blobs[titleId], ModelCheck.Structure, out var view, out _))
            {
                throw new InvalidOperationException($"model of title {titleId} does not open");
            }

            var decision = engine.Select(view, member, title, unixMs);
            var record = ImpressionRecord.FromDecision(eventId, unixMs, decision, view.ImageCount, member, title);
            served += world.QualityProbability(m, titleId, decision.ImageId);
            servedCount++;
            joiner.AddImpression(record);
            if (world.Respond(m, titleId, decision.ImageId, eventId, unixMs, rng) is { } reward)
            {
                joiner.AddReward(reward);
            }

            eventId++;
            if (n % retrainEvery == 0 || n == impressions)
            {
                var examples = joiner.Close(long.MaxValue);
                version++;
                var (trained, _) = Trainer.Train(models, examples, cross, version, options);
                models = trained.ToDictionary(t => t.TitleId);
                blobs = Serialize(models);
                if (checkpoints.Contains(n))
                {
                    points.Add(Evaluate(world, blobs, n, evaluationRequests, seed + 1) with { ServedTake = served / Math.Max(1, servedCount) });
                }

                served = 0;
                servedCount = 0;
            }
        }

        return points;
    }

    /// <summary>Expected take fraction of the greedy policy of <paramref name="blobs"/> on fresh requests.</summary>
    public static LearningPoint Evaluate(LoopWorld world, IReadOnlyDictionary<uint, byte[]> blobs, long impressions, int requests, int seed)
    {
        var rng = new Random(seed);
        var greedy = new SelectionEngine(new SelectionOptions { Policy = PolicyKind.Greedy });
        var titles = world.TitleIds.ToArray();
        double take = 0, random = 0, optimal = 0;
        for (var r = 0; r < requests; r++)
        {
            var m = rng.Next(world.MemberCount);
            var titleId = titles[rng.Next(titles.Length)];
            var member = world.Member(m, (byte)rng.Next(24), (byte)rng.Next(7));
            var title = new TitleContext { TitleId = titleId, RecommenderScore = (float)rng.NextDouble() };
            ModelView.TryOpen(blobs[titleId], ModelCheck.Structure, out var view, out _);
            var decision = greedy.Select(view, member, title, 0);
            take += world.QualityProbability(m, titleId, decision.ImageId);
            random += world.RandomPolicyTake(m, titleId);
            optimal += world.OptimalTake(m, titleId);
        }

        return new LearningPoint(impressions, take / requests, random / requests, optimal / requests);
    }

    private static Dictionary<uint, byte[]> Serialize(Dictionary<uint, TitleModel> models) =>
        models.ToDictionary(kv => kv.Key, kv => kv.Value.Serialize(ModelDefaults.ServingPrecision));
}
