using System.Globalization;
using EdgeSelector.Cli.Charts;
using EdgeSelector.Learning.Simulation;
using SkiaSharp;

namespace EdgeSelector.Cli.Tests;

/// <summary><c>edgesel report</c>: the Markdown table equals the library's numbers; the charts are fitted to the data.</summary>
public class ReportCommandTests
{
    private static readonly Lazy<Figure2Result> SmallRun = new(() => Figure2.Run(new Scenario(), 20_000, seed: 5));

    [Fact]
    public void Report_SmallRun_WritesEachEstimateBesideItsTrueValueAndTwoPngCharts()
    {
        using var dir = new TempDirectory();
        var (code, _, stderr) = CliRunner.Run("report", "--out", dir.FullName, "--impressions", "20000", "--seed", "5");
        Assert.True(code == 0, stderr);

        var expected = SmallRun.Value;
        var lines = File.ReadAllLines(dir.File("report.md"));
        foreach (var row in expected.Rows)
        {
            // | Policy | Replay estimate | 95% CI | True value | Replay rows |
            var cells = Cells(lines.Single(l => l.StartsWith("| " + row.Policy + " |", StringComparison.Ordinal)));
            Assert.Equal(row.Replay.Value, Parse(cells[1]), 4);
            Assert.Equal($"[{F(row.Replay.CiLow)}, {F(row.Replay.CiHigh)}]", cells[2]);
            Assert.Equal(row.TrueValue, Parse(cells[3]), 4);
        }

        var oracle = Cells(lines.Single(l => l.StartsWith("| Oracle", StringComparison.Ordinal)));
        Assert.Equal(expected.OracleTrueValue, Parse(oracle[3]), 4);

        foreach (var chart in new[] { "figure2.png", "learning.png" })
        {
            Assert.Contains(lines, l => l.EndsWith($"]({chart})", StringComparison.Ordinal));
            using var image = SKBitmap.Decode(dir.File(chart));
            Assert.NotNull(image);
            Assert.Equal((ChartStyle.Width, ChartStyle.Height), (image.Width, image.Height));
        }

        // Progress went to stderr while it ran; the report itself to stdout.
        Assert.Contains("edgesel report: simulating 20,000 uniformly explored impressions", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_Quiet_PrintsNoProgress()
    {
        using var dir = new TempDirectory();
        var (code, stdout, stderr) = CliRunner.Run("report", "--out", dir.FullName, "--impressions", "4000", "--quiet");

        Assert.True(code == 0, stderr);
        Assert.DoesNotContain("simulating", stderr, StringComparison.Ordinal);
        Assert.Contains("# Figure 2, reproduced", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Figure2Chart_VerticalAxisFittedToTheData_NotFromZero()
    {
        var result = SmallRun.Value;
        var plot = ReportCharts.Figure2(result);
        var limits = plot.Axes.GetLimits();

        var low = result.Rows.Min(r => Math.Min(r.Replay.CiLow, r.TrueValue));
        var high = Math.Max(result.OracleTrueValue, result.Rows.Max(r => Math.Max(r.Replay.CiHigh, r.TrueValue)));
        // Everything drawn is inside the axis, and the data fill most of it (a 0-based axis would leave them ~15%).
        Assert.InRange(limits.Bottom, low * 0.5, low);
        Assert.True(limits.Top >= high, $"top {limits.Top} below the data's {high}");
        Assert.True((high - low) / (limits.Top - limits.Bottom) > 0.7, $"data span {high - low} in an axis of {limits.Top - limits.Bottom}");
        // One category per policy, and no point drawn outside them.
        Assert.True(limits.Left < -0.12 && limits.Right > result.Rows.Count - 1 + 0.12);
    }

    [Fact]
    public void LearningChart_EveryPointAndLevelInsideTheFittedAxes()
    {
        var result = SmallRun.Value;
        var limits = ReportCharts.Learning(result).Axes.GetLimits();

        var values = result.Learning.Select(p => p.GreedyTrueValue).Append(result.Rows[0].TrueValue).Append(result.OracleTrueValue).ToList();
        Assert.All(values, v => Assert.InRange(v, limits.Bottom, limits.Top));
        Assert.True((values.Max() - values.Min()) / (limits.Top - limits.Bottom) > 0.7);
        Assert.All(result.Learning, p => Assert.InRange(Math.Log10(p.Impressions), limits.Left, limits.Right));
    }

    [Theory]
    [InlineData(3906, "3.9k")]
    [InlineData(500_000, "500k")]
    [InlineData(1_000_000, "1M")]
    [InlineData(999, "999")]
    public void Count_ShortTickLabels(double n, string label) => Assert.Equal(label, ReportCharts.Count(n));

    [Fact]
    public void Report_ImpressionsBelowTwo_IsAUsageError()
    {
        var (code, _, stderr) = CliRunner.Run("report", "--impressions", "1");

        Assert.Equal(2, code);
        Assert.Contains("--impressions", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_MissingScenario_ExitOneNamingTheFile()
    {
        using var dir = new TempDirectory();
        var (code, _, stderr) = CliRunner.Run("report", "--scenario", dir.File("world.json"), "--out", dir.FullName);

        Assert.Equal(1, code);
        Assert.Contains($"{dir.File("world.json")}: file not found (--scenario)", stderr, StringComparison.Ordinal);
    }

    private static string[] Cells(string line) => [.. line.Trim('|').Split('|').Select(c => c.Trim())];

    private static double Parse(string cell) => double.Parse(cell, CultureInfo.InvariantCulture);

    private static string F(double value) => value.ToString("0.0000", CultureInfo.InvariantCulture);
}
