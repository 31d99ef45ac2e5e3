using System.Globalization;
using System.Text.Json;
using EdgeSelector.Core.Logging;
using EdgeSelector.Learning.Logging;

namespace EdgeSelector.Cli.Tests;

/// <summary>The <c>edgesel evaluate</c> contract that scripts depend on, run in-process.</summary>
public class EvaluateCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private static string UniformPolicy(TempDirectory dir, int items)
    {
        var path = dir.File("uniform.csv");
        File.WriteAllLines(path, [
            "item_id,position,probability",
            .. from p in new[] { 1, 2, 3 } from i in Enumerable.Range(0, items) select $"{i},{p},{(1.0 / items).ToString("R", CultureInfo.InvariantCulture)}"]);
        return path;
    }

    [Fact]
    public void Json_ObdUniform_OneObjectWithEveryEstimatorAndField()
    {
        using var dir = new TempDirectory();
        var (code, stdout, stderr) = Run(
            "evaluate", "--data", TestPaths.Campaign("men"), "--format", "obd", "--policy", UniformPolicy(dir, 34),
            "--estimators", "ips,snips,dm,dr,replay", "--json");

        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal(JsonValueKind.Object, json.RootElement.ValueKind);
        Assert.Equal(["ips", "snips", "dm", "dr", "replay"], json.RootElement.EnumerateObject().Select(p => p.Name));
        foreach (var estimator in json.RootElement.EnumerateObject())
        {
            foreach (var field in new[] { "value", "ci_low", "ci_high", "ess" })
            {
                Assert.Equal(JsonValueKind.Number, estimator.Value.GetProperty(field).ValueKind);
            }

            Assert.True(estimator.Value.GetProperty("ci_low").GetDouble() <= estimator.Value.GetProperty("value").GetDouble());
        }

        // Replay keeps each row with the uniform target's probability of its action, 1/34.
        Assert.Equal(1.0 / 34, json.RootElement.GetProperty("replay").GetProperty("take_fraction").GetDouble(), 9);
        var clickRate = ClickRate("men");
        Assert.Equal(clickRate, json.RootElement.GetProperty("ips").GetProperty("value").GetDouble(), 12);
    }

    [Fact]
    public void Json_ExtremeWeights_CarriesWarning()
    {
        using var dir = new TempDirectory();
        var policy = dir.File("few.csv");
        File.WriteAllLines(policy, ["probability", .. Enumerable.Range(0, 10_000).Select(i => i % 2000 == 0 ? "1" : "0")]);

        var (code, stdout, _) = Run("evaluate", "--data", TestPaths.Campaign("men"), "--format", "obd", "--policy", policy, "--json");

        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(stdout);
        // A probability-only policy: dm and dr are left out by default.
        Assert.Equal(["ips", "snips", "replay"], json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Contains("extreme weights", json.RootElement.GetProperty("ips").GetProperty("warning").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_GenericLogWithPerRowDistribution_Evaluates()
    {
        using var dir = new TempDirectory();
        var data = dir.File("log.csv");
        var policy = dir.File("policy.csv");
        var rows = new List<string> { "id,x_a,action,propensity,reward" };
        var policyRows = new List<string> { "p_0,p_1" };
        for (var i = 0; i < 400; i++)
        {
            rows.Add($"{i},{i % 2},{(i % 4 == 0 ? 1 : 0)},0.5,{(i % 4 == 0 ? 1 : 0)}");
            policyRows.Add("0.25,0.75");
        }

        File.WriteAllLines(data, rows);
        File.WriteAllLines(policy, policyRows);

        var (code, stdout, stderr) = Run("evaluate", "--data", data, "--format", "csv", "--policy", policy, "--json");

        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        // Action 1 is logged on a quarter of the rows and always rewarded: IPS = (100 · 0.75/0.5) / 400;
        // SNIPS = 150 / (100 · 1.5 + 300 · 0.5).
        Assert.Equal(0.375, json.RootElement.GetProperty("ips").GetProperty("value").GetDouble(), 12);
        Assert.Equal(0.5, json.RootElement.GetProperty("snips").GetProperty("value").GetDouble(), 12);
        Assert.InRange(json.RootElement.GetProperty("dr").GetProperty("value").GetDouble(), 0.6, 0.9);
    }

    [Fact]
    public void Impressions_RecordFileJoinedWithRewards_IpsMatchesHandComputation()
    {
        using var dir = new TempDirectory();
        var log = dir.File("impressions.esrf");
        var rewards = dir.File("rewards.esrf");
        double handSum = 0;
        const int N = 3000;
        using (var impressions = new RecordFileWriter(log))
        using (var outcomes = new RecordFileWriter(rewards))
        {
            var random = new Random(5);
            for (var i = 0; i < N; i++)
            {
                var candidates = 4;
                var chosen = random.Next(candidates);
                impressions.Append(new ImpressionRecord
                {
                    EventId = (ulong)i,
                    ChosenIndex = (ushort)chosen,
                    CandidateCount = (ushort)candidates,
                    Propensity = 1.0 / candidates,
                    PolicyKind = Core.Exploration.PolicyKind.Uniform,
                    RecommenderScore = (float)random.NextDouble(),
                });
                var played = random.NextDouble() < (chosen == 0 ? 0.3 : 0.1);
                if (played)
                {
                    outcomes.Append(new RewardRecord { EventId = (ulong)i, PlayStarted = true, MinutesWatched = 10 });
                    // Target: always candidate 0 (the default image) -> weight 4 on rows that chose it.
                    handSum += chosen == 0 ? 4 : 0;
                }
            }
        }

        var policy = dir.File("default-image.csv");
        File.WriteAllLines(policy, ["item_id,probability", "0,1"]);

        var (code, stdout, stderr) = Run(
            "evaluate", "--data", log, "--rewards", rewards, "--format", "impressions", "--policy", policy, "--json");

        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal(handSum / N, json.RootElement.GetProperty("ips").GetProperty("value").GetDouble(), 12);
        Assert.InRange(json.RootElement.GetProperty("dr").GetProperty("value").GetDouble(), 0.2, 0.4);
    }

    [Fact]
    public void Impressions_QualityRuleAndBySegment_ScoreTheTrainersLabelWithinEverySegment()
    {
        using var dir = new TempDirectory();
        var log = dir.File("impressions.esrf");
        var rewards = dir.File("rewards.esrf");
        const int N = 4000;
        var minutes = new float[N];
        var rows = new (int Chosen, bool Interacted, Primitives.DeviceClass Device)[N];
        using (var impressions = new RecordFileWriter(log))
        using (var outcomes = new RecordFileWriter(rewards))
        {
            var random = new Random(9);
            for (var i = 0; i < N; i++)
            {
                rows[i] = (random.Next(4), random.Next(3) == 0, random.Next(2) == 0 ? Primitives.DeviceClass.Tv : Primitives.DeviceClass.Phone);
                impressions.Append(new ImpressionRecord
                {
                    EventId = (ulong)i,
                    ChosenIndex = (ushort)rows[i].Chosen,
                    CandidateCount = 4,
                    Propensity = 0.25,
                    PolicyKind = Core.Exploration.PolicyKind.Uniform,
                    InteractedBefore = rows[i].Interacted ? (byte)1 : (byte)0,
                    Device = rows[i].Device,
                });
                if (random.NextDouble() < (rows[i].Interacted ? 0.2 : 0.5))
                {
                    // 3, 6 or 12 minutes of 10% of the title: only the minutes threshold decides.
                    minutes[i] = new[] { 3f, 6f, 12f }[random.Next(3)];
                    outcomes.Append(new RewardRecord { EventId = (ulong)i, PlayStarted = true, MinutesWatched = minutes[i], FractionCompleted = 0.1f });
                }
            }
        }

        var policy = dir.File("default-image.csv");
        File.WriteAllLines(policy, ["item_id,probability", "0,1"]);

        // IPS of "always candidate 0" under a rule, over the rows a segment selects: weight 4 on rows that chose 0.
        double Hand(float minMinutes, Func<int, bool> inSegment)
        {
            var rowsIn = Enumerable.Range(0, N).Where(inSegment).ToArray();
            return rowsIn.Sum(i => rows[i].Chosen == 0 && minutes[i] >= minMinutes ? 4.0 : 0) / rowsIn.Length;
        }

        var (code, stdout, stderr) = Run(
            "evaluate", "--data", log, "--rewards", rewards, "--format", "impressions", "--policy", policy,
            "--reward", "quality", "--min-minutes", "5", "--estimators", "ips", "--by-segment", "--json");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var ips = json.RootElement.GetProperty("ips");
        Assert.Equal("quality play = started and >= 5 min or >= 25% of the title", ips.GetProperty("reward").GetString());
        Assert.Equal(Hand(5, _ => true), ips.GetProperty("value").GetDouble(), 12);
        var segments = ips.GetProperty("segments").EnumerateArray()
            .ToDictionary(e => e.GetProperty("dimension").GetString() + "=" + e.GetProperty("segment").GetString());
        Assert.Equal(Hand(5, i => rows[i].Interacted), segments["interacted=yes"].GetProperty("value").GetDouble(), 12);
        Assert.Equal(Hand(5, i => !rows[i].Interacted), segments["interacted=no"].GetProperty("value").GetDouble(), 12);
        Assert.Equal(rows.Count(r => r.Interacted), segments["interacted=yes"].GetProperty("n").GetInt64());
        Assert.Equal(Hand(5, i => rows[i].Device == Primitives.DeviceClass.Tv), segments["device=tv"].GetProperty("value").GetDouble(), 12);
        Assert.True(segments["interacted=no"].GetProperty("ci_high").GetDouble() > segments["interacted=no"].GetProperty("ci_low").GetDouble());

        // The default rule (10 minutes, as edgesel train) scores fewer of these plays as quality plays.
        var (code10, stdout10, stderr10) = Run(
            "evaluate", "--data", log, "--rewards", rewards, "--format", "impressions", "--policy", policy, "--reward", "quality", "--estimators", "ips", "--json");
        Assert.True(code10 == 0, stderr10);
        using var json10 = JsonDocument.Parse(stdout10);
        Assert.Equal(Hand(10, _ => true), json10.RootElement.GetProperty("ips").GetProperty("value").GetDouble(), 12);
        Assert.True(Hand(10, _ => true) < Hand(5, _ => true) - 0.05);
        Assert.False(json10.RootElement.GetProperty("ips").TryGetProperty("segments", out _));

        // The table names the rule and prints one row per segment.
        var (codeTable, table, _) = Run(
            "evaluate", "--data", log, "--rewards", rewards, "--format", "impressions", "--policy", policy, "--reward", "quality", "--estimators", "ips", "--by-segment");
        Assert.Equal(0, codeTable);
        Assert.Contains("reward: quality play = started and >= 10 min or >= 25% of the title", table, StringComparison.Ordinal);
        Assert.Contains("interacted=no", table, StringComparison.Ordinal);
    }

    [Fact]
    public void Errors_BadInput_ExitNonZeroWithClearMessage()
    {
        using var dir = new TempDirectory();
        var uniform = UniformPolicy(dir, 34);
        var badSum = dir.File("bad-sum.csv");
        File.WriteAllLines(badSum, ["item_id,position,probability", "1,1,0.5", "2,1,0.4"]);
        var noReward = dir.File("no-reward.csv");
        File.WriteAllLines(noReward, ["action,propensity", "1,0.5"]);
        var badPropensity = dir.File("bad-propensity.csv");
        File.WriteAllLines(badPropensity, ["action,propensity,reward", "1,0,1"]);
        var oneItem = dir.File("one-item.csv");
        File.WriteAllLines(oneItem, ["item_id,probability", "1,1"]);
        var men = TestPaths.Campaign("men");

        AssertFails(1, $"{dir.File("missing.csv")}: file or directory not found (--data)", "evaluate", "--data", dir.File("missing.csv"), "--format", "csv", "--policy", uniform);
        AssertFails(1, $"{dir.File("nope.csv")}: file or directory not found (--policy)", "evaluate", "--data", men, "--format", "obd", "--policy", dir.File("nope.csv"));
        AssertFails(1, "sum to 0.9", "evaluate", "--data", men, "--format", "obd", "--policy", badSum);
        AssertFails(1, "missing column 'reward'", "evaluate", "--data", noReward, "--format", "csv", "--policy", oneItem);
        AssertFails(1, "propensity 0 is outside", "evaluate", "--data", badPropensity, "--format", "csv", "--policy", oneItem);
        AssertFails(1, "the policy has no distribution for position 3", "evaluate", "--data", men, "--format", "obd", "--policy", PositionTwoOnly(dir));
        AssertFails(2, "Option '--policy' is required", "evaluate", "--data", men, "--format", "obd");
        AssertFails(2, "unknown option '--nope'", "evaluate", "--nope", "1");
        AssertFails(2, "unknown option '--polcy'. Did you mean '--policy'?", "evaluate", "--data", men, "--format", "obd", "--polcy", uniform);
        AssertFails(2, "Argument 'parquet' not recognized", "evaluate", "--data", men, "--format", "parquet", "--policy", uniform);
        AssertFails(2, "unknown estimator 'foo'", "evaluate", "--data", men, "--format", "obd", "--policy", uniform, "--estimators", "ips,foo");
        AssertFails(2, "unknown command 'frobnicate'", "frobnicate");
        AssertFails(2, "--epsilon applies only when --policy is a directory", "evaluate", "--data", men, "--format", "obd", "--policy", uniform, "--epsilon", "0.1");
        AssertFails(2, "--by-segment applies to --format impressions only", "evaluate", "--data", men, "--format", "obd", "--policy", uniform, "--by-segment");
        AssertFails(2, "--min-minutes must be a number", "evaluate", "--data", men, "--format", "impressions", "--policy", uniform, "--min-minutes", "ten");
    }

    // The click rate of the campaign's rows, read straight from its CSV (the logging policy's own value).
    private static double ClickRate(string campaign)
    {
        var lines = File.ReadAllLines(Path.Combine(TestPaths.Campaign(campaign), campaign + ".csv"));
        var click = Array.IndexOf(lines[0].Split(','), "click");
        var rows = lines.Skip(1).Where(l => l.Length > 0).Select(l => int.Parse(l.Split(',')[click], CultureInfo.InvariantCulture)).ToList();
        return rows.Sum() / (double)rows.Count;
    }

    private static string PositionTwoOnly(TempDirectory dir)
    {
        var path = dir.File("pos2.csv");
        File.WriteAllLines(path, ["item_id,position,probability", "3,2,1"]);
        return path;
    }

    private static void AssertFails(int expectedCode, string message, params string[] args)
    {
        var (code, _, stderr) = Run(args);
        Assert.True(code == expectedCode, $"exit {code} for {string.Join(' ', args)}: {stderr}");
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }
}
