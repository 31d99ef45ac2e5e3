using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Evaluation;
using EdgeSelector.Learning.Evaluation.Data;
using EdgeSelector.Learning.Evaluation.Estimators;
using EdgeSelector.Learning.Join;
using EdgeSelector.Learning.Training;

namespace EdgeSelector.Learning.Simulation;

/// <summary>One bar of Figure 2: a policy's replay estimate on the evaluation half of the log, and its exact value.</summary>
/// <param name="Policy">Policy name as printed.</param>
/// <param name="Replay">The replay estimate with its 95% interval.</param>
/// <param name="TrueValue">The policy's exact take fraction in the simulated world.</param>
public sealed record Figure2Row(string Policy, EstimateResult Replay, double TrueValue);

/// <summary>One policy's replay estimate within one segment of the evaluation half, beside its exact value there.</summary>
/// <param name="Policy">Policy name as printed.</param>
/// <param name="Segment">The segment (interacted before or not, device, country).</param>
/// <param name="Rows">Rows of the evaluation half in the segment.</param>
/// <param name="Replay">The replay estimate on those rows, with its 95% interval.</param>
/// <param name="TrueValue">The policy's exact take fraction over the segment's (member, title) pairs.</param>
public sealed record Figure2SegmentRow(string Policy, Segment Segment, long Rows, EstimateResult Replay, double TrueValue);

/// <summary>One point of the learning chart: the contextual greedy policy trained on the first <paramref name="Impressions"/> rows.</summary>
/// <param name="Impressions">Training rows used.</param>
/// <param name="GreedyTrueValue">Exact take fraction of the greedy policy of the models trained on them.</param>
public readonly record struct Figure2LearningPoint(int Impressions, double GreedyTrueValue);

/// <summary>Everything <c>edgesel report</c> writes.</summary>
/// <param name="Rows">Random, bandit, contextual greedy, Thompson and ε-greedy, in that order.</param>
/// <param name="OracleTrueValue">Exact take fraction of the best image for every (member, title) pair.</param>
/// <param name="TrainRows">Rows of the log the policies were trained on.</param>
/// <param name="EvaluationRows">Rows of the log replay ran on.</param>
/// <param name="Learning">Greedy true value after training on growing prefixes of the training rows.</param>
/// <param name="Rule">The quality-play rule the trainer labelled with and replay scored (one definition for both).</param>
/// <param name="Segments">Every policy's replay estimate and exact value by segment (interacted, device, country).</param>
public sealed record Figure2Result(
    IReadOnlyList<Figure2Row> Rows, double OracleTrueValue, int TrainRows, int EvaluationRows, IReadOnlyList<Figure2LearningPoint> Learning,
    QualityPlayRule Rule, IReadOnlyList<Figure2SegmentRow> Segments);

/// <summary>
/// Figure 2 of the artwork-personalisation write-up, reproduced on the simulator: a uniformly explored log is split
/// in two; the first half trains the policies (a per-title best image for the non-contextual bandit; the project's
/// <see cref="Trainer"/> for the contextual ones, served by Core's <see cref="SelectionEngine"/>), the second half
/// estimates their take fraction by replay, and the world gives each policy's exact value beside the estimate.
/// </summary>
public static class Figure2
{
    /// <summary>
    /// Impressions of the default run: enough that the contextual policies' replay intervals clear the bandit's on the
    /// default scenario (at 200k they touch), and about five seconds of work.
    /// </summary>
    public const int DefaultImpressions = 1_000_000;

    /// <summary>ε of the contextual ε-greedy policy (the engine's default).</summary>
    public const float Epsilon = 0.1f;

    /// <summary>Names of the rows, in order.</summary>
    public static readonly IReadOnlyList<string> PolicyNames =
        ["Random", "Bandit (best image per title)", "Contextual greedy", "Contextual Thompson", "Contextual ε-greedy"];

    /// <summary>
    /// Draws <paramref name="impressions"/> uniformly explored impressions from the world of <paramref name="scenario"/>
    /// (log seed <paramref name="seed"/>), trains on the first half, replays on the second; <paramref name="learningPoints"/>
    /// retrains on that many growing prefixes of the training half (0 for none). <paramref name="rule"/> (default
    /// <see cref="QualityPlayRule.Default"/>) labels the training examples and decides replay's reward.
    /// </summary>
    public static Figure2Result Run(Scenario scenario, int impressions, int seed, int learningPoints = 8, QualityPlayRule? rule = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(impressions, 2);
        var world = new SimulatedWorld(scenario);
        var uniform = WorldPolicies.Build(world, "uniform");
        var log = SimulatedLog.Generate(world, uniform, impressions, seed, rule);
        var trainRows = impressions / 2;
        var train = log.Slice(0, trainRows);
        var evaluation = log.Slice(trainRows, impressions - trainRows);

        var examples = Join(train);
        var blobs = TrainBlobs(world, examples);
        PolicyTable[] policies =
        [
            uniform,
            Bandit(world, train),
            WorldPolicies.FromEngine(world, "greedy", blobs, new SelectionOptions { Policy = PolicyKind.Greedy }),
            WorldPolicies.FromEngine(world, "thompson", blobs, new SelectionOptions { Policy = PolicyKind.Thompson }),
            WorldPolicies.FromEngine(world, "epsilon-greedy", blobs, new SelectionOptions { Policy = PolicyKind.EpsilonGreedy, Epsilon = Epsilon }),
        ];
        var reports = OffPolicyEvaluator.Evaluate(evaluation, policies.Select(evaluation.Target).ToArray(), ["replay"], new EvaluationOptions { BySegment = true });
        var rows = policies.Select((p, i) => new Figure2Row(PolicyNames[i], reports[i].Results[0], world.TrueValue(p))).ToArray();
        var segments = new List<Figure2SegmentRow>();
        for (var i = 0; i < policies.Length; i++)
        {
            foreach (var s in reports[i].Segments)
            {
                var key = s.Key;
                segments.Add(new Figure2SegmentRow(PolicyNames[i], key, s.Rows, s.Results[0], world.TrueValue(policies[i], (m, t) => key.Contains(m, t))));
            }
        }


        var learning = new List<Figure2LearningPoint>();
        for (var k = learningPoints; k >= 1; k--)
        {
            // Geometric prefixes ending at the whole training half: early learning is where the curve moves.
            var n = (int)Math.Round(trainRows / Math.Pow(2, k - 1));
            if (n < 1 || (learning.Count > 0 && learning[^1].Impressions == n))
            {
                continue;
            }

            var prefix = k == 1 ? blobs : TrainBlobs(world, Join(train.Slice(0, n)));
            var greedy = k == 1 ? policies[2] : WorldPolicies.FromEngine(world, "greedy", prefix, new SelectionOptions { Policy = PolicyKind.Greedy });
            learning.Add(new Figure2LearningPoint(n, world.TrueValue(greedy)));
        }

        return new Figure2Result(rows, world.TrueValue(Oracle(world)), train.Count, evaluation.Count, learning, log.Rule, segments);
    }

    /// <summary>The catalog of the world as the trainer sees it: each image tagged with its theme (what it shows), nothing else.</summary>
    public static CatalogDocument Catalog(SimulatedWorld world)
    {
        var catalog = new CatalogDocument();
        foreach (var title in world.Titles)
        {
            catalog.Titles.Add(new CatalogTitle
            {
                Id = title.Id,
                Name = $"Title {title.Id}",
                DefaultImage = title.Images[0].Id,
                PriorTakeRate = (float)(1 / (1 + Math.Exp(-world.Scenario.BaseLogit))),
                Images = [.. title.Images.Select(i => new CatalogImage { Id = i.Id, Tags = [i.Theme.ToString().ToLowerInvariant()] })],
            });
        }

        return catalog;
    }

    private static List<LabeledExample> Join(SimulatedLog log)
    {
        // The rule the evaluation's quality reward uses: one definition for training and replay.
        var joiner = new RewardJoiner(new RewardJoinOptions { Rule = log.Rule });
        for (var row = 0; row < log.Count; row++)
        {
            var (_, _, impression, reward) = log.Row(row);
            joiner.AddImpression(impression);
            if (reward is { } r)
            {
                joiner.AddReward(r);
            }
        }

        return joiner.Close(long.MaxValue);
    }

    private static byte[][] TrainBlobs(SimulatedWorld world, List<LabeledExample> examples)
    {
        var cold = CatalogModelBuilder.Build(Catalog(world), 1, FeatureSpace.Default).ToDictionary(m => m.TitleId);
        // One batch over a stationary world whose log spaces impressions a second apart (278 simulated hours for a
        // million): forgetting by data age would only discount the start of the log, so it is off here.
        var (trained, _) = Trainer.Train(cold, examples, new CrossTitleModel(), 2, new TrainerOptions { ForgettingHalfLifeHours = 0 });
        var byId = trained.ToDictionary(m => m.TitleId);
        return [.. world.Titles.Select(t => byId[t.Id].Serialize(ModelDefaults.ServingPrecision))];
    }

    /// <summary>The non-contextual bandit: per title, the image with the best quality-play rate in the log (ties and unseen titles: the default).</summary>
    private static PolicyTable Bandit(SimulatedWorld world, SimulatedLog log)
    {
        var shown = new int[world.Titles.Count][];
        var taken = new int[world.Titles.Count][];
        for (var t = 0; t < shown.Length; t++)
        {
            shown[t] = new int[world.Titles[t].Images.Length];
            taken[t] = new int[world.Titles[t].Images.Length];
        }

        for (var row = 0; row < log.Count; row++)
        {
            var (_, t, impression, reward) = log.Row(row);
            shown[t][impression.ChosenIndex]++;
            if (reward is { } r && ImpressionLogSource.RewardValue(r, ImpressionReward.Quality, log.Rule) > 0)
            {
                taken[t][impression.ChosenIndex]++;
            }
        }

        var best = new int[shown.Length];
        for (var t = 0; t < best.Length; t++)
        {
            for (var i = 1; i < shown[t].Length; i++)
            {
                if (Rate(taken[t][i], shown[t][i]) > Rate(taken[t][best[t]], shown[t][best[t]]))
                {
                    best[t] = i;
                }
            }
        }

        return Deterministic(world, "bandit", (_, t) => best[t]);

        static double Rate(int taken, int shown) => shown == 0 ? -1 : (double)taken / shown;
    }

    /// <summary>The best image for every (member, title) pair: the ceiling no policy can beat.</summary>
    private static PolicyTable Oracle(SimulatedWorld world) =>
        Deterministic(world, "oracle", (m, t) =>
        {
            var best = 0;
            for (var i = 1; i < world.Titles[t].Images.Length; i++)
            {
                if (world.QualityProbability(m, t, i) > world.QualityProbability(m, t, best))
                {
                    best = i;
                }
            }

            return best;
        });

    private static PolicyTable Deterministic(SimulatedWorld world, string name, Func<int, int, int> choose)
    {
        var table = new PolicyTable(name, world);
        for (var m = 0; m < world.MemberCount; m++)
        {
            for (var t = 0; t < world.Titles.Count; t++)
            {
                table.Slot(m, t)[choose(m, t)] = 1;
            }
        }

        table.Validate();
        return table;
    }
}
