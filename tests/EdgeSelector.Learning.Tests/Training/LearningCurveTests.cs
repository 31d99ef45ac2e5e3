using EdgeSelector.Learning.Training;
using Xunit;
using Xunit.Abstractions;

namespace EdgeSelector.Learning.Tests.Training;

/// <summary>The seeded simulator asserts learning quality at given example counts (STYLE.md, after Vowpal Wabbit).</summary>
public sealed class LearningCurveTests(ITestOutputHelper output)
{
    [Fact]
    public void Loop_After10kAnd50kImpressions_GreedyTakeClearlyAboveRandom()
    {
        var world = new LoopWorld(seed: 7);
        var points = LoopSimulation.Run(world, 50_000, 10_000, [10_000, 50_000], seed: 11);
        foreach (var p in points)
        {
            output.WriteLine($"{p.Impressions,9}: greedy {p.GreedyTake:F4} random {p.RandomTake:F4} optimal {p.OptimalTake:F4}");
        }

        Assert.Equal(2, points.Count);
        Assert.True(points[0].GreedyTake > points[0].RandomTake + 0.03, $"10k: {points[0]}");
        Assert.True(points[1].GreedyTake > points[1].RandomTake + 0.05, $"50k: {points[1]}");
        Assert.True(points[1].GreedyTake >= points[0].GreedyTake - 0.005, "more data must not make it clearly worse");
    }

    [Fact]
    public void Loop_ServingWithThompsonSampling_OnTheTrainedPosteriors_LearnsToo()
    {
        var world = new LoopWorld(seed: 7);
        var points = LoopSimulation.Run(world, 20_000, 10_000, [20_000], seed: 13, policy: Core.Exploration.PolicyKind.Thompson);
        output.WriteLine($"thompson 20k: greedy {points[0].GreedyTake:F4} random {points[0].RandomTake:F4}");
        Assert.True(points[0].GreedyTake > points[0].RandomTake + 0.05, points[0].ToString());
    }

    /// <summary>The docs/learning.md table (10k, 100k, 1M impressions); set EDGESEL_LEARNING_TABLE=1 to run (~1 min).</summary>
    [Fact]
    public void Table_ForDocs()
    {
        if (Environment.GetEnvironmentVariable("EDGESEL_LEARNING_TABLE") != "1")
        {
            return;
        }

        (string Name, TrainerOptions Options)[] variants =
        [
            ("default (unweighted, cross-title)", new TrainerOptions()),
            ("inverse-propensity weighted", new TrainerOptions { InversePropensityWeighting = true }),
            ("no cross-title component", new TrainerOptions { CrossTitle = false }),
            ("thompson", new TrainerOptions()),
        ];
        foreach (var (name, options) in variants)
        {
            var world = new LoopWorld(seed: 7);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var policy = name == "thompson" ? Core.Exploration.PolicyKind.Thompson : Core.Exploration.PolicyKind.EpsilonGreedy;
            var points = LoopSimulation.Run(world, 1_000_000, 10_000, [10_000, 100_000, 1_000_000], seed: 11, options, policy);
            foreach (var p in points)
            {
                output.WriteLine($"{name}: {p.Impressions,9}: greedy {p.GreedyTake:F4} served {p.ServedTake:F4} random {p.RandomTake:F4} optimal {p.OptimalTake:F4}");
            }

            output.WriteLine($"{name}: {sw.Elapsed.TotalSeconds:F1} s");
        }
    }
}
