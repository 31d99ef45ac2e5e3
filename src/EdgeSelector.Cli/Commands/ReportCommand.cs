using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeSelector.Cli.Charts;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Learning.Simulation;

namespace EdgeSelector.Cli.Commands;

/// <summary>
/// <c>edgesel report</c>: Figure 2 reproduced on the simulator (<see cref="Figure2"/>): replay estimates of random,
/// bandit and contextual policies on a uniformly explored log, each beside its exact value, as a Markdown table and
/// two PNG charts (docs/evaluation.md, "Figure 2").
/// </summary>
internal sealed class ReportCommand : CliCommand
{
    private readonly Option<string> _scenario = SharedOptions.Scenario(
        "World sizes and effects (docs/simulation.md); default: built-in (500 members, 100 titles); its logging_policy is not used: Figure 2 always replays a uniformly explored log");

    private readonly Option<string> _out = SharedOptions.Out("Directory for report.md, figure2.png and learning.png", "report");

    private readonly Option<int> _impressions = SharedOptions.Range(
        new Option<int>("--impressions")
        {
            Description = "Uniformly explored impressions; the first half trains, the second half is replayed (tens of seconds at the default)",
            HelpName = "N",
            DefaultValueFactory = _ => Figure2.DefaultImpressions,
        },
        2,
        int.MaxValue);

    private readonly Option<int> _seed = SharedOptions.Seed(1, "Seed of the log (the world has the scenario's seed)");

    public ReportCommand()
        : base("report", "Figure 2: replay estimates beside the true values of random, bandit and contextual policies (report.md and two PNG charts)")
    {
        Options.Add(_scenario);
        Options.Add(_out);
        Options.Add(_impressions);
        Options.Add(_seed);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var seed = parse.GetValue(_seed);
        var dir = parse.GetValue(_out)!;
        var impressions = parse.GetValue(_impressions);
        var scenario = parse.GetValue(_scenario) is { } path ? Scenario.Load(InputFiles.Require(path, "--scenario")) : new Scenario();
        scenario.Validate();

        var clock = Stopwatch.StartNew();
        Figure2Result result;
        using (context.Progress(string.Create(CultureInfo.InvariantCulture, $"simulating {impressions:N0} uniformly explored impressions, training and replaying five policies")))
        {
            result = Figure2.Run(scenario, impressions, seed);
        }

        Directory.CreateDirectory(dir);
        var markdown = Markdown(result, scenario, impressions, seed);
        File.WriteAllText(Path.Combine(dir, "report.md"), markdown);
        ChartStyle.Save(ReportCharts.Figure2(result), Path.Combine(dir, Figure2Chart));
        ChartStyle.Save(ReportCharts.Learning(result), Path.Combine(dir, LearningChart));
        context.Out.Write(markdown);
        context.Message(string.Create(CultureInfo.InvariantCulture, $"wrote {dir}/report.md, {Figure2Chart}, {LearningChart} in {clock.Elapsed.TotalSeconds:F1} s"));
        return ExitCodes.Ok;
    }

    /// <summary>File name of the Figure 2 chart in the output directory.</summary>
    internal const string Figure2Chart = "figure2.png";

    /// <summary>File name of the learning chart in the output directory.</summary>
    internal const string LearningChart = "learning.png";

    /// <summary>The report: one table row per policy (replay estimate, interval, true value), the oracle, and the learning points.</summary>
    internal static string Markdown(Figure2Result result, Scenario scenario, int impressions, int seed)
    {
        var ci = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine("# Figure 2, reproduced");
        md.AppendLine();
        md.AppendLine(string.Create(ci,
            $"World: {scenario.Members} members, {scenario.Titles} titles, {scenario.ImagesMin}-{scenario.ImagesMax} images each (scenario seed {scenario.Seed}). " +
            $"Log: {impressions} uniformly explored impressions (seed {seed}); policies trained on the first {result.TrainRows}, " +
            $"replay on the other {result.EvaluationRows}. Reward: quality play."));
        md.AppendLine();
        md.AppendLine("| Policy | Replay estimate | 95% CI | True value | Replay rows |");
        md.AppendLine("|---|---:|---|---:|---:|");
        foreach (var row in result.Rows)
        {
            md.AppendLine(string.Create(ci,
                $"| {row.Policy} | {row.Replay.Value:0.0000} | [{row.Replay.CiLow:0.0000}, {row.Replay.CiHigh:0.0000}] | {row.TrueValue:0.0000} | {row.Replay.EffectiveSampleSize:0} |"));
        }

        md.AppendLine(string.Create(ci, $"| Oracle (best image per member and title) | | | {result.OracleTrueValue:0.0000} | |"));
        md.AppendLine();
        md.AppendLine("Replay rows: the effective number of matched rows, (Σπ)²/Σπ² over the replayed rows.");
        foreach (var warning in result.Rows.Select(r => r.Replay.Warning).OfType<string>().Distinct())
        {
            md.AppendLine();
            md.AppendLine("Replay warning: " + warning + ".");
        }

        md.AppendLine();
        md.AppendLine($"![Figure 2]({Figure2Chart})");
        md.AppendLine();
        md.AppendLine("## Learning");
        md.AppendLine();
        md.AppendLine("True take fraction of the contextual greedy policy trained on the first N impressions of the training half:");
        md.AppendLine();
        md.AppendLine("| Training impressions | Greedy true value |");
        md.AppendLine("|---:|---:|");
        foreach (var p in result.Learning)
        {
            md.AppendLine(string.Create(ci, $"| {p.Impressions} | {p.GreedyTrueValue:0.0000} |"));
        }

        md.AppendLine();
        md.AppendLine($"![Learning]({LearningChart})");
        return md.ToString();
    }
}
