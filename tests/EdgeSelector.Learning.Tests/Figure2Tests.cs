using EdgeSelector.Learning.Simulation;
using Xunit;
using Xunit.Abstractions;

namespace EdgeSelector.Learning.Tests;

/// <summary>Figure 2 reproduced (<c>edgesel report</c>): replay on a uniformly explored log against the simulator's truth.</summary>
public class Figure2Tests(ITestOutputHelper output)
{
    // The run the committed docs/img/figure2.svg shows: default scenario, default size, log seed 1 (a few seconds).
    private static readonly Lazy<Figure2Result> DefaultRun = new(() => Figure2.Run(new Scenario(), Figure2.DefaultImpressions, seed: 1));

    [Fact]
    public void Run_DefaultScenario_ContextualBeatsBanditBeatsRandomWithSeparateIntervals()
    {
        var result = DefaultRun.Value;
        foreach (var row in result.Rows)
        {
            output.WriteLine($"{row.Policy,-30} {row.Replay.Value:F4} [{row.Replay.CiLow:F4}, {row.Replay.CiHigh:F4}] true {row.TrueValue:F4}");
        }

        output.WriteLine($"oracle {result.OracleTrueValue:F4}");
        Assert.Equal(Figure2.PolicyNames, result.Rows.Select(r => r.Policy));
        var random = result.Rows[0];
        var bandit = result.Rows[1];
        var greedy = result.Rows[2];
        var epsilonGreedy = result.Rows[4];

        // By replay, with non-overlapping 95% intervals.
        Assert.True(bandit.Replay.CiLow > random.Replay.CiHigh, "bandit's interval must lie above random's");
        Assert.True(greedy.Replay.CiLow > bandit.Replay.CiHigh, "contextual greedy's interval must lie above the bandit's");
        Assert.True(epsilonGreedy.Replay.CiLow > bandit.Replay.CiHigh, "contextual ε-greedy's interval must lie above the bandit's");

        // The truth agrees, and nothing beats the oracle.
        Assert.True(greedy.TrueValue > bandit.TrueValue && bandit.TrueValue > random.TrueValue);
        Assert.All(result.Rows, r => Assert.True(r.TrueValue <= result.OracleTrueValue));

        // Replay is close to the truth but not unbiased here: the default world has 3-6 images per title, so uniform
        // logging has varying propensities and replay down-weights titles with many images (it says so in a warning).
        Assert.All(result.Rows, r => Assert.InRange(r.Replay.Value, r.TrueValue * 0.96, r.TrueValue * 1.04));
        Assert.Contains("propensities vary", random.Replay.Warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_DefaultScenario_LearningCurveRisesToTheTrainedGreedyValue()
    {
        var result = DefaultRun.Value;
        var points = result.Learning;

        Assert.Equal(8, points.Count);
        Assert.Equal(result.TrainRows, points[^1].Impressions);
        Assert.Equal(result.Rows[2].TrueValue, points[^1].GreedyTrueValue);
        Assert.True(points.Zip(points.Skip(1)).All(p => p.First.Impressions < p.Second.Impressions));
        // From barely above random on a few thousand rows to most of the way to the oracle.
        Assert.True(points[^1].GreedyTrueValue > points[0].GreedyTrueValue + 0.02);
    }
}
