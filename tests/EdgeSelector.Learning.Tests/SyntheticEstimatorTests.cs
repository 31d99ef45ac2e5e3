using EdgeSelector.Learning.Evaluation;
using EdgeSelector.Learning.Evaluation.Data;
using EdgeSelector.Learning.Evaluation.Policies;
using Xunit;
using Xunit.Abstractions;

namespace EdgeSelector.Learning.Tests;

/// <summary>Estimators against a world whose true policy value is known exactly (<see cref="SyntheticWorld"/>).</summary>
public class SyntheticEstimatorTests(ITestOutputHelper output)
{
    private static readonly string[] All = ["ips", "snips", "dm", "dr", "replay"];

    [Fact]
    public void AllEstimators_LargeLog_WithinThreePercentOfTruth()
    {
        var truth = SyntheticWorld.TrueValue();
        var report = OffPolicyEvaluator.Evaluate(SyntheticWorld.Log(100_000, seed: 7), new SyntheticWorld.TargetPolicyOfWorld(), ["ips", "snips", "dm", "dr"]);

        foreach (var r in report.Results)
        {
            output.WriteLine($"{r.Name}: {r.Value:F5} [{r.CiLow:F5}, {r.CiHigh:F5}] truth {truth:F5} ess {r.EffectiveSampleSize:F0}");
            // Interval coverage is asserted over many seeds below; one seed checks accuracy only.
            Assert.InRange(r.Value, truth * 0.97, truth * 1.03);
            Assert.Null(r.Warning);
        }
    }

    [Fact]
    public void Intervals_ManySeededLogs_CoverTruthAtLeastNinetyPercent()
    {
        const int Repetitions = 200;
        var truth = SyntheticWorld.TrueValue();
        var covered = new Dictionary<string, int> { ["ips"] = 0, ["snips"] = 0, ["dr"] = 0, ["dm"] = 0 };
        for (var seed = 0; seed < Repetitions; seed++)
        {
            var report = OffPolicyEvaluator.Evaluate(
                SyntheticWorld.Log(2_000, seed), new SyntheticWorld.TargetPolicyOfWorld(), [.. covered.Keys],
                new EvaluationOptions { Seed = (ulong)seed });
            foreach (var r in report.Results)
            {
                if (r.CiLow <= truth && truth <= r.CiHigh)
                {
                    covered[r.Name]++;
                }
            }
        }

        foreach (var (name, count) in covered)
        {
            output.WriteLine($"{name}: {count}/{Repetitions} intervals cover the truth");
        }

        // 95% nominal; 90% leaves room for sampling noise over 200 repetitions (sd ≈ 1.5 points).
        Assert.True(covered["ips"] >= 0.9 * Repetitions, $"ips {covered["ips"]}");
        Assert.True(covered["snips"] >= 0.9 * Repetitions, $"snips {covered["snips"]}");
        Assert.True(covered["dr"] >= 0.9 * Repetitions, $"dr {covered["dr"]}");
        Assert.True(covered["dm"] >= 0.9 * Repetitions, $"dm {covered["dm"]}");
    }

    [Fact]
    public void Replay_UniformLog_WithinThreePercentOfTruthWithoutWarning()
    {
        var truth = SyntheticWorld.TrueValue();
        var report = OffPolicyEvaluator.Evaluate(
            SyntheticWorld.Log(100_000, seed: 11, uniformLogging: true), new SyntheticWorld.TargetPolicyOfWorld(), All);

        foreach (var r in report.Results)
        {
            output.WriteLine($"{r.Name}: {r.Value:F5} [{r.CiLow:F5}, {r.CiHigh:F5}] truth {truth:F5}");
            Assert.InRange(r.Value, truth * 0.97, truth * 1.03);
            Assert.Null(r.Warning);
        }
    }

    [Fact]
    public void Replay_NonUniformLog_WarnsThatItIsBiased()
    {
        var report = OffPolicyEvaluator.Evaluate(SyntheticWorld.Log(5_000, seed: 3), new SyntheticWorld.TargetPolicyOfWorld(), ["replay"]);

        Assert.Contains("logging propensities vary", report.Results[0].Warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Warning_OneRowWithTinyPropensity_DominatesTheWeight()
    {
        var rows = Enumerable.Range(0, 1000)
            .Select(i => new InMemoryBanditSource.Row(i % 2, 1, i == 500 ? 1e-5 : 0.5, i % 3 == 0 ? 1 : 0, []))
            .ToList();
        var policy = new ContextFreePolicy([(0, null, 0.5), (1, null, 0.5)]);

        var report = OffPolicyEvaluator.Evaluate(new InMemoryBanditSource([], rows), policy, ["ips", "snips", "dr"]);

        foreach (var r in report.Results)
        {
            Assert.NotNull(r.Warning);
            Assert.Contains("of the total weight", r.Warning, StringComparison.Ordinal);
            Assert.True(r.EffectiveSampleSize < 2);
        }
    }

    [Fact]
    public void Evaluate_DmWithProbabilityOnlyPolicy_IsRejected()
    {
        using var dir = new TempDirectory();
        var path = dir.File("p.csv");
        File.WriteAllLines(path, ["probability", "0.5"]);

        var error = Assert.Throws<EvaluationInputException>(() =>
            OffPolicyEvaluator.Evaluate(SyntheticWorld.Log(1, 0), new PerRowPolicy(path), ["dm"]));
        Assert.Contains("whole distribution", error.Message, StringComparison.Ordinal);
    }
}
