using EdgeSelector.Learning.Evaluation;
using EdgeSelector.Learning.Simulation;
using Xunit;
using Xunit.Abstractions;

namespace EdgeSelector.Learning.Tests;

/// <summary>Estimates by segment (interacted before or not, device, country) against the simulator's exact values there.</summary>
public class SegmentTests(ITestOutputHelper output)
{
    // Artwork matters a fifth as much to members who know the title (the simulator's interacted_personal_factor).
    private static readonly Scenario World = new() { Members = 300, Titles = 40, ImagesMin = 4, ImagesMax = 4, InteractedPersonalFactor = 0.2 };

    [Fact]
    public void BySegment_100kImpressions_EverySegmentNearItsExactValue_AndArtworkMattersMoreWithoutInteraction()
    {
        var world = new SimulatedWorld(World);
        var uniform = WorldPolicies.Build(world, "uniform");
        var personal = WorldPolicies.Build(world, "oracle-epsilon");
        var log = SimulatedLog.Generate(world, uniform, 100_000, seed: 3);
        var reports = OffPolicyEvaluator.Evaluate(log, [log.Target(personal), log.Target(uniform)], ["ips", "snips", "dr"], new EvaluationOptions { BySegment = true });
        var (target, baseline) = (reports[0], reports[1]);
        Assert.Equal(2 + 5 + 6, target.Segments.Count); // interacted yes/no, five devices, six countries

        var outside = 0;
        foreach (var segment in target.Segments)
        {
            var truth = world.TrueValue(personal, (m, t) => segment.Key.Contains(m, t));
            foreach (var r in segment.Results)
            {
                output.WriteLine($"{segment.Key,-16} {r.Name,-6} {segment.Rows,7} {r.Value:F4} [{r.CiLow:F4}, {r.CiHigh:F4}] truth {truth:F4}");
                Assert.InRange(r.Value, truth * 0.9, truth * 1.1);
                outside += r.CiLow <= truth && truth <= r.CiHigh ? 0 : 1;
            }
        }

        // 39 intervals of 95%: about two may miss by chance; more is a broken interval.
        Assert.True(outside <= 6, $"{outside} of 39 segment intervals miss the exact value");

        // IPS is a mean of per-row terms: the segments of one dimension add back up to the whole log exactly.
        foreach (var dimension in new[] { "interacted", "device", "country" })
        {
            var parts = target.Segments.Where(s => s.Dimension == dimension).ToList();
            Assert.Equal(log.Count, parts.Sum(s => s.Rows));
            Assert.Equal(target.Results[0].Value, parts.Sum(s => s.Results[0].Value * s.Rows) / log.Count, 10);
        }

        // What the segments are for: the best artwork policy's lift over random is larger where the member has not
        // interacted with the title (in this world only 0.2 of the personal pull remains for the others). The exact
        // lifts say so, and the segment estimates find each within 0.015.
        double Estimate(EvaluationReport r, string value) => r.Segments.Single(s => s.Dimension == "interacted" && s.Value == value).Results[1].Value;
        double Exact(PolicyTable p, bool interacted) => world.TrueValue(p, (_, t) => t.Interacted == interacted);
        var (exactNo, exactYes) = (Exact(personal, false) - Exact(uniform, false), Exact(personal, true) - Exact(uniform, true));
        var (liftNo, liftYes) = (Estimate(target, "no") - Estimate(baseline, "no"), Estimate(target, "yes") - Estimate(baseline, "yes"));
        output.WriteLine($"lift over random (snips / exact): not interacted {liftNo:F4} / {exactNo:F4}, interacted {liftYes:F4} / {exactYes:F4}");
        Assert.True(exactNo > exactYes + 0.005, $"exact lifts: {exactNo:F4} without interaction, {exactYes:F4} with");
        Assert.InRange(liftNo, exactNo - 0.015, exactNo + 0.015);
        Assert.InRange(liftYes, exactYes - 0.015, exactYes + 0.015);
    }

    [Fact]
    public void BySegment_OffByDefault_AndRowsWithoutImpressionsHaveNone()
    {
        var world = new SimulatedWorld(World);
        var log = SimulatedLog.Generate(world, WorldPolicies.Build(world, "uniform"), 2_000, seed: 1);
        var report = OffPolicyEvaluator.Evaluate(log, log.Target(WorldPolicies.Build(world, "default")), ["ips"]);
        Assert.Empty(report.Segments);
    }
}
