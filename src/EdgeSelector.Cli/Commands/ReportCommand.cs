using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeSelector.Learning.Join;
using EdgeSelector.Learning.Simulation;

namespace EdgeSelector.Cli.Commands;

/// <summary>
/// <c>edgesel report</c>: Figure 2 reproduced on the simulator (<see cref="Figure2"/>): replay estimates of random,
/// bandit and contextual policies on a uniformly explored log, each beside its exact value, as a Markdown table and
/// two SVG charts (docs/evaluation.md, "Figure 2").
/// </summary>
internal sealed class ReportCommand : ICommand
{
    public string Name => "report";

    public string Summary => "Figure 2: replay estimates vs true values of random, bandit and contextual policies (report.md + SVG)";

    public string Usage => """
        usage: edgesel report [--scenario FILE.json] [--out DIR] [--impressions N] [--seed N] [--min-minutes M] [--min-fraction F]
          --scenario     world sizes and effects (docs/simulation.md); default: built-in (500 members, 100 titles);
                         its logging_policy is not used: Figure 2 always replays a uniformly explored log
          --out          directory for report.md, figure2.svg and learning.svg (default: report)
          --impressions  uniformly explored impressions; the first half trains, the second half is replayed
                         (default 1000000, about 5 s; the scenario's own impressions key is for simulate)
          --seed         seed of the log (the world has the scenario's seed); default 1
          --min-minutes  quality play: at least this many minutes (default 10, as edgesel train and evaluate) ...
          --min-fraction ... or at least this fraction of the title (default 0.25); the one rule both the training
                         labels and replay's reward use, printed in report.md
        report.md also breaks every policy down by segment (interacted before or not, device, country).
        """;

    public IReadOnlySet<string> ValueOptions { get; } = new HashSet<string> { "scenario", "out", "impressions", "seed", "min-minutes", "min-fraction" };

    public IReadOnlySet<string> Flags { get; } = new HashSet<string>();

    public int Run(CommandArgs args, TextWriter stdout, TextWriter stderr)
    {
        var seed = ParseInt(args.Get("seed") ?? "1", "seed", 0);
        var dir = args.Get("out") ?? "report";
        Scenario scenario;
        int impressions;
        try
        {
            scenario = args.Get("scenario") is { } path
                ? (File.Exists(path) ? Scenario.Load(path) : throw new InvalidDataException($"{path}: file not found."))
                : new Scenario();
            impressions = args.Get("impressions") is { } n ? ParseInt(n, "impressions", 2) : Figure2.DefaultImpressions;
            scenario.Validate();
        }
        catch (InvalidDataException e)
        {
            stderr.WriteLine($"edgesel report: {e.Message}");
            return Program.ExitInputError;
        }

        var clock = Stopwatch.StartNew();
        var rule = new QualityPlayRule
        {
            MinMinutes = args.Get("min-minutes") is { } mm ? ParseRuleValue(mm, "min-minutes") : QualityPlayRule.DefaultMinMinutes,
            MinFraction = args.Get("min-fraction") is { } mf ? ParseRuleValue(mf, "min-fraction") : QualityPlayRule.DefaultMinFraction,
        };
        var result = Figure2.Run(scenario, impressions, seed, rule: rule);
        Directory.CreateDirectory(dir);
        var markdown = Markdown(result, scenario, impressions, seed);
        File.WriteAllText(Path.Combine(dir, "report.md"), markdown);
        File.WriteAllText(Path.Combine(dir, "figure2.svg"), ReportCharts.Figure2(result));
        File.WriteAllText(Path.Combine(dir, "learning.svg"), ReportCharts.Learning(result));
        stdout.Write(markdown);
        stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"edgesel report: wrote {dir}/report.md, figure2.svg, learning.svg in {clock.Elapsed.TotalSeconds:F1} s"));
        return Program.ExitOk;
    }

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
            $"replay on the other {result.EvaluationRows}. Reward: {result.Rule.Describe()} (the trainer's label and replay's reward)."));
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
        md.AppendLine("![Figure 2](figure2.svg)");
        md.AppendLine();
        if (result.Segments.Count > 0)
        {
            md.AppendLine("## By segment");
            md.AppendLine();
            md.AppendLine("Replay estimate within each segment of the replayed half, beside the exact value over the segment's (member, title) pairs:");
            md.AppendLine();
            md.AppendLine("| Segment | Policy | Replay estimate | 95% CI | True value | Rows |");
            md.AppendLine("|---|---|---:|---|---:|---:|");
            foreach (var row in result.Segments)
            {
                md.AppendLine(string.Create(ci,
                    $"| {row.Segment} | {row.Policy} | {row.Replay.Value:0.0000} | [{row.Replay.CiLow:0.0000}, {row.Replay.CiHigh:0.0000}] | {row.TrueValue:0.0000} | {row.Rows} |"));
            }

            md.AppendLine();
        }

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
        md.AppendLine("![Learning](learning.svg)");
        return md.ToString();
    }

    private static float ParseRuleValue(string value, string name) =>
        float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && float.IsFinite(v) && v >= 0
            ? v
            : throw new UsageException($"--{name} must be a non-negative number (got '{value}').");

    private static int ParseInt(string value, string name, int min) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min
            ? n
            : throw new UsageException($"--{name} must be an integer of at least {min} (got '{value}').");
}
