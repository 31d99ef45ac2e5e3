using System.CommandLine;
using System.Globalization;
using EdgeSelector.Cli.Charts;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Learning.Training;

namespace EdgeSelector.Cli.Commands;

/// <summary>
/// <c>edgesel learning-curve</c>: runs the whole loop in process on the seeded <see cref="LoopWorld"/> and prints the
/// take fraction reached after 10k, 100k and 1M impressions per trainer variant (the table in docs/learning.md).
/// </summary>
internal sealed class LearningCurveCommand : CliCommand
{
    private readonly Option<long> _max = SharedOptions.Positive(new Option<long>("--max")
    {
        Description = "Impressions of the longest run (checkpoints at 10k, 100k and 1M up to it; at least 10000)",
        HelpName = "N",
        DefaultValueFactory = _ => 1_000_000,
    });

    private readonly Option<long> _retrainEvery = SharedOptions.Positive(new Option<long>("--retrain-every")
    {
        Description = "Impressions between retrains (at most 10000)",
        HelpName = "N",
        DefaultValueFactory = _ => 10_000,
    });

    private readonly Option<int> _seed = SharedOptions.Seed(11, "Seed of the traffic (the world has seed 7)");

    private readonly Option<string> _chart = new("--chart")
    {
        Description = "Also draw the take fraction per variant against impressions to this file (.png or .svg)",
        HelpName = "FILE",
    };

    public LearningCurveCommand()
        : base("learning-curve", "Measure the take fraction the learning loop reaches on the simulated world, per trainer variant (docs/learning.md; about a minute)")
    {
        Options.Add(_max);
        Options.Add(_retrainEvery);
        Options.Add(_seed);
        Options.Add(_chart);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var max = parse.GetValue(_max);
        var every = parse.GetValue(_retrainEvery);
        var seed = parse.GetValue(_seed);
        var checkpoints = new long[] { 10_000, 100_000, 1_000_000 }.Where(c => c <= max).ToArray();
        if (checkpoints.Length == 0 || every > checkpoints[0])
        {
            throw new UsageException("--max must be at least 10000 and --retrain-every at most 10000.");
        }

        (string Name, TrainerOptions Options, PolicyKind Policy)[] variants =
        [
            ("default (unweighted, cross-title)", new TrainerOptions(), PolicyKind.EpsilonGreedy),
            ("inverse-propensity weighted", new TrainerOptions { InversePropensityWeighting = true }, PolicyKind.EpsilonGreedy),
            ("no cross-title component", new TrainerOptions { CrossTitle = false }, PolicyKind.EpsilonGreedy),
            ("served by Thompson sampling", new TrainerOptions(), PolicyKind.Thompson),
        ];
        var ci = CultureInfo.InvariantCulture;
        var curves = new List<LearningCurveChart.Curve>();
        context.Out.WriteLine("variant | impressions | greedy take | served take | random | best possible");
        using (var progress = context.Progress($"variant 1/{variants.Length}: {variants[0].Name}"))
        {
            for (var v = 0; v < variants.Length; v++)
            {
                var (name, options, policy) = variants[v];
                if (v > 0)
                {
                    progress.Step($"variant {v + 1}/{variants.Length}: {name}");
                }

                var points = LoopSimulation.Run(new LoopWorld(seed: 7), checkpoints[^1], every, checkpoints, seed, options, policy);
                foreach (var p in points)
                {
                    context.Out.WriteLine(string.Create(ci, $"{name} | {p.Impressions} | {p.GreedyTake:F4} | {p.ServedTake:F4} | {p.RandomTake:F4} | {p.OptimalTake:F4}"));
                }

                curves.Add(new LearningCurveChart.Curve(name, [.. points]));
            }
        }

        if (parse.GetValue(_chart) is { } chart)
        {
            LearningCurveChart.Save(curves, chart);
            context.Message($"wrote {chart}");
        }

        return ExitCodes.Ok;
    }
}
