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
}
