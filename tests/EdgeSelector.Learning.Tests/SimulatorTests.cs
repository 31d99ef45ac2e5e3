using System.Diagnostics;
using EdgeSelector.Learning.Evaluation;
using EdgeSelector.Learning.Simulation;
using Xunit;
using Xunit.Abstractions;

namespace EdgeSelector.Learning.Tests;

/// <summary>Off-policy estimators against the simulator's exact policy values.</summary>
public class SimulatorTests(ITestOutputHelper output)
{
    private const int Impressions = 100_000;

    // Small, so 50 repetitions stay fast; four images per title so uniform logging has one constant propensity
    // (replay's assumption).
    private static readonly Scenario SmallWorld = new() { Members = 200, Titles = 40, ImagesMin = 4, ImagesMax = 4 };

    private static readonly string[] Targets = ["default", "personal-softmax", "oracle-epsilon", "engine-epsilon", "clickbait-greedy"];

    [Fact]
    public void Estimators_FivePoliciesOn100kImpressions_WithinFivePercentOfTruth()
    {
        var world = new SimulatedWorld(SmallWorld);
        var log = SimulatedLog.Generate(world, WorldPolicies.Build(world, "uniform"), Impressions, seed: 1);
        var policies = Targets.Select(n => WorldPolicies.Build(world, n)).ToArray();
        var reports = OffPolicyEvaluator.Evaluate(log, policies.Select(log.Target).ToArray(), OffPolicyEvaluator.AllEstimators);
        for (var p = 0; p < policies.Length; p++)
        {
            var name = policies[p].Name;
            var truth = world.TrueValue(policies[p]);
            foreach (var r in reports[p].Results)
            {
                output.WriteLine($"{name,-17} {r.Name,-6} {r.Value:F5} [{r.CiLow:F5}, {r.CiHigh:F5}] truth {truth:F5} ({(r.Value / truth) - 1:P2}) ess {r.EffectiveSampleSize:F0} {r.Warning}");
                Assert.InRange(r.Value, truth * 0.95, truth * 1.05);
            }
        }
    }

    [Fact]
    public void Intervals_50SeededLogs_CoverTruthAtLeast90Percent()
    {
        const int Repetitions = 50;
        var clock = Stopwatch.StartNew();
        var world = new SimulatedWorld(SmallWorld);
        var logging = WorldPolicies.Build(world, "uniform");
        var policies = Targets.Select(n => WorldPolicies.Build(world, n)).ToArray();
        var truths = policies.Select(p => world.TrueValue(p)).ToArray();
        var covered = new Dictionary<(string Policy, string Estimator), int>();
        for (var seed = 0; seed < Repetitions; seed++)
        {
            var log = SimulatedLog.Generate(world, logging, Impressions, seed + 100);
            var reports = OffPolicyEvaluator.Evaluate(
                log, policies.Select(log.Target).ToArray(), OffPolicyEvaluator.AllEstimators, new EvaluationOptions { Seed = (ulong)seed });
            for (var p = 0; p < policies.Length; p++)
            {
                foreach (var r in reports[p].Results)
                {
                    var key = (policies[p].Name, r.Name);
                    covered[key] = covered.GetValueOrDefault(key) + (r.CiLow <= truths[p] && truths[p] <= r.CiHigh ? 1 : 0);
                }
            }
        }

        output.WriteLine($"{Repetitions} repetitions in {clock.Elapsed.TotalSeconds:F1} s");
        foreach (var ((policy, estimator), count) in covered.OrderBy(kv => kv.Key))
        {
            output.WriteLine($"{policy,-17} {estimator,-6} {count}/{Repetitions}");
        }

        Assert.All(covered, kv => Assert.True(kv.Value >= 0.9 * Repetitions, $"{kv.Key}: {kv.Value}/{Repetitions}"));
    }
}
