using System.Diagnostics;
using System.Globalization;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Learning.Training;

namespace EdgeSelector.Cli.Commands;

/// <summary>
/// <c>edgesel learning-curve</c>: runs the whole loop in process on the seeded <see cref="LoopWorld"/> and prints the
/// take fraction reached after 10k, 100k and 1M impressions per trainer variant (the table in docs/learning.md).
/// </summary>
internal sealed class LearningCurveCommand : ICommand
{
    public string Name => "learning-curve";

    public string Summary => "measure the take fraction the learning loop reaches on the simulated world (docs/learning.md)";

    public string Usage => """
        usage: edgesel learning-curve [--scenario stationary|drift|pages|embeddings|interaction] [--max N] [--retrain-every N] [--seed N]
          --scenario       stationary (default): the learning curve of docs/learning.md section 7; the others print
                           the Markdown tables of section 8 (drift: forgetting half-lives in changing worlds, ~36 runs,
                           several minutes; pages: the page policy; embeddings: new untagged images; interaction:
                           schema 1 against schema 2 by segment); --max, --retrain-every and --seed apply to stationary
          --max            impressions of the longest run (default 1000000; checkpoints at 10k, 100k and 1M up to it)
          --retrain-every  impressions between retrains (default 10000)
          --seed           seed of the traffic (the world has seed 7); default 11
        prints one line per variant and checkpoint: greedy take fraction of the trained models, the take fraction
        members saw while serving, random and best possible; about a minute at the default size
        """;

    public IReadOnlySet<string> ValueOptions { get; } = new HashSet<string> { "max", "retrain-every", "seed", "scenario" };

    public IReadOnlySet<string> Flags { get; } = new HashSet<string>();

    public int Run(CommandArgs args, TextWriter stdout, TextWriter stderr)
    {
        // Section 8's tables (#16): drift, pages, embeddings, interaction.
        if (args.Get("scenario") is { } scenario && scenario != "stationary")
        {
            if (!LearningTables.Scenarios.Contains(scenario))
            {
                throw new UsageException($"--scenario must be stationary, {string.Join(", ", LearningTables.Scenarios)} (got '{scenario}').");
            }

            LearningTables.Write(scenario, stdout, line => stderr.WriteLine(line));
            return Program.ExitOk;
        }

        var max = Parse(args.Get("max") ?? "1000000", "max");
        var every = Parse(args.Get("retrain-every") ?? "10000", "retrain-every");
        var seed = (int)Parse(args.Get("seed") ?? "11", "seed");
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
        stdout.WriteLine("variant | impressions | greedy take | served take | random | best possible");
        foreach (var (name, options, policy) in variants)
        {
            var clock = Stopwatch.StartNew();
            var points = LoopSimulation.Run(new LoopWorld(seed: 7), checkpoints[^1], every, checkpoints, seed, options, policy);
            foreach (var p in points)
            {
                stdout.WriteLine(string.Create(ci, $"{name} | {p.Impressions} | {p.GreedyTake:F4} | {p.ServedTake:F4} | {p.RandomTake:F4} | {p.OptimalTake:F4}"));
            }

            stderr.WriteLine(string.Create(ci, $"{name}: {clock.Elapsed.TotalSeconds:F1} s"));
        }

        return Program.ExitOk;
    }

    private static long Parse(string value, string name) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new UsageException($"--{name} must be a positive whole number, not '{value}'.");
}
