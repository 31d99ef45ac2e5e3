using System.Globalization;
using EdgeSelector.Learning.Evaluation;
using EdgeSelector.Learning.Evaluation.Data;
using EdgeSelector.Learning.Evaluation.Estimators;
using EdgeSelector.Learning.Evaluation.Policies;
using Xunit;

namespace EdgeSelector.Learning.Tests;

/// <summary>Estimators on the Open Bandit Dataset sample, checked against sums computed here from the raw CSV rows.</summary>
public class ObdEvaluationTests
{
    private static readonly string[] IpsSnipsReplay = ["ips", "snips", "replay"];

    /// <summary>The raw rows of a campaign, parsed independently of the library's readers.</summary>
    internal static List<(int Item, int Position, int Click, double Propensity)> RawRows(string campaign)
    {
        var lines = File.ReadAllLines(Path.Combine(TestPaths.Campaign(campaign), campaign + ".csv"));
        var header = lines[0].Split(',');
        int item = Array.IndexOf(header, "item_id"), position = Array.IndexOf(header, "position"),
            click = Array.IndexOf(header, "click"), propensity = Array.IndexOf(header, "propensity_score");
        return lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).Select(f => (
            int.Parse(f[item], CultureInfo.InvariantCulture),
            int.Parse(f[position], CultureInfo.InvariantCulture),
            int.Parse(f[click], CultureInfo.InvariantCulture),
            double.Parse(f[propensity], CultureInfo.InvariantCulture))).ToList();
    }

    private static int ItemCount(string campaign) =>
        File.ReadAllLines(Path.Combine(TestPaths.Campaign(campaign), "item_context.csv")).Skip(1).Count(l => l.Length > 0);

    private static Dictionary<string, EstimateResult> Evaluate(string campaign, TargetPolicy policy, params string[] estimators) =>
        OffPolicyEvaluator.Evaluate(new ObdSource(TestPaths.Campaign(campaign)), policy, estimators)
            .Results.ToDictionary(r => r.Name);

    [Theory]
    [InlineData("men")]
    [InlineData("women")]
    public void Ips_LoggingPolicyItself_EqualsPlainClickRateExactly(string campaign)
    {
        var rows = RawRows(campaign);
        var items = ItemCount(campaign);
        // The logging policy: uniform over the items at each position, with the propensity exactly as logged.
        var propensity = rows[0].Propensity;
        Assert.All(rows, r => Assert.Equal(propensity, r.Propensity));
        var policy = new ContextFreePolicy(
            from p in new[] { 1, 2, 3 } from i in Enumerable.Range(0, items) select (i, (int?)p, propensity));

        var results = Evaluate(campaign, policy, "ips", "snips", "replay", "dm", "dr");

        var clickRate = rows.Sum(r => (double)r.Click) / rows.Count;
        Assert.Equal(clickRate, results["ips"].Value);
        Assert.Equal(rows.Count, results["ips"].EffectiveSampleSize, 6);
        Assert.Null(results["ips"].Warning);
        Assert.Equal(clickRate, results["snips"].Value, 12);
        Assert.Equal(clickRate, results["replay"].Value, 12);
        // The normal interval of a Bernoulli mean, by hand.
        var half = MeanAccumulator95 * Math.Sqrt(clickRate * (1 - clickRate) * rows.Count / (rows.Count - 1) / rows.Count);
        Assert.Equal(clickRate - half, results["ips"].CiLow, 10);
        Assert.Equal(clickRate + half, results["ips"].CiHigh, 10);
        // DR with any reward model stays near the on-policy mean when the weights are all 1.
        Assert.InRange(results["dr"].Value, clickRate * 0.9, clickRate * 1.1);
    }

    [Theory]
    [InlineData("men")]
    [InlineData("women")]
    public void IpsSnips_AlwaysOneItemAtOnePosition_MatchHandComputation(string campaign)
    {
        var rows = RawRows(campaign);
        var items = ItemCount(campaign);
        // Item k = the most clicked item at position 2 (so the estimate is not trivially 0); other positions
        // keep the uniform logging distribution.
        const int Position = 2;
        var k = rows.Where(r => r.Position == Position).GroupBy(r => r.Item).OrderByDescending(g => g.Sum(r => r.Click)).ThenBy(g => g.Key).First().Key;
        double Target(int item, int position) => position == Position ? (item == k ? 1 : 0) : 1.0 / items;
        var policy = new ContextFreePolicy(
            from p in new[] { 1, 2, 3 } from i in Enumerable.Range(0, items) select (i, (int?)p, Target(i, p)));

        var results = Evaluate(campaign, policy, IpsSnipsReplay);

        double sumWr = 0, sumW = 0, sumW2 = 0;
        foreach (var r in rows)
        {
            var w = Target(r.Item, r.Position) / r.Propensity;
            sumW += w;
            sumWr += w * r.Click;
            sumW2 += w * w;
        }

        Assert.Equal(sumWr / rows.Count, results["ips"].Value, 12);
        Assert.Equal(sumWr / sumW, results["snips"].Value, 12);
        Assert.Equal(sumW * sumW / sumW2, results["snips"].EffectiveSampleSize, 6);
        Assert.True(results["ips"].Value > 0);
    }

    [Theory]
    [InlineData("men")]
    [InlineData("women")]
    public void IpsSnips_UniformOverTopThreePerPosition_MatchHandComputation(string campaign)
    {
        var rows = RawRows(campaign);
        var top3 = rows.GroupBy(r => r.Position).ToDictionary(
            g => g.Key,
            g => g.GroupBy(r => r.Item).OrderByDescending(h => h.Sum(r => r.Click)).ThenBy(h => h.Key).Take(3).Select(h => h.Key).ToHashSet());
        var policy = new ContextFreePolicy(
            from kv in top3 from i in kv.Value select (i, (int?)kv.Key, 1.0 / 3));

        var results = Evaluate(campaign, policy, IpsSnipsReplay);

        double sumWr = 0, sumW = 0, matched = 0, matchedClicks = 0;
        foreach (var r in rows)
        {
            var target = top3[r.Position].Contains(r.Item) ? 1.0 / 3 : 0;
            var w = target / r.Propensity;
            sumW += w;
            sumWr += w * r.Click;
            if (target > 0)
            {
                matched++;
                matchedClicks += r.Click;
            }
        }

        Assert.Equal(sumWr / rows.Count, results["ips"].Value, 12);
        Assert.Equal(sumWr / sumW, results["snips"].Value, 12);
        // Replay on a uniform log: the click rate of the matched rows.
        Assert.Equal(matchedClicks / matched, results["replay"].Value, 12);
        Assert.Equal(sumW * (rows[0].Propensity) / rows.Count, results["replay"].TakeFraction!.Value, 12);
        Assert.Equal(matched, results["snips"].EffectiveSampleSize, 6);
        Assert.Null(results["ips"].Warning);
        // Picking the most clicked items from the same log must look better than the logging policy's click rate.
        Assert.True(results["ips"].Value > rows.Average(r => (double)r.Click));
    }

    [Fact]
    public void Warning_PolicySupportedByFewRows_IsRaised()
    {
        using var dir = new TempDirectory();
        var rows = RawRows("men");
        // Per-row target probabilities: 1 on five rows, 0 elsewhere -> effective sample size 5.
        var path = dir.File("policy.csv");
        File.WriteAllLines(path, ["probability", .. rows.Select((_, i) => i % 2000 == 0 ? "1" : "0")]);

        var results = Evaluate("men", new PerRowPolicy(path), IpsSnipsReplay);

        Assert.Equal(5, results["ips"].EffectiveSampleSize, 9);
        Assert.NotNull(results["ips"].Warning);
        Assert.Contains("effective sample size", results["ips"].Warning, StringComparison.Ordinal);
        Assert.Contains("of the total weight", results["snips"].Warning, StringComparison.Ordinal);
    }

    private const double MeanAccumulator95 = 1.959963984540054;
}
