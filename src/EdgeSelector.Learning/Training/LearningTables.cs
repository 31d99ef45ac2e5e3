using System.Globalization;
using EdgeSelector.Core.Exploration;

namespace EdgeSelector.Learning.Training;

/// <summary>
/// The tables of docs/learning.md, section 8, as Markdown: what <c>edgesel learning-curve --scenario …</c> prints. Each
/// runs the seeded experiments of <see cref="LearningExperiments"/> (deterministic: the same numbers on every machine)
/// and reports progress, one line per run, to <c>progress</c>.
/// </summary>
public static class LearningTables
{
    /// <summary>The scenario names <c>edgesel learning-curve --scenario</c> takes besides the stationary curve.</summary>
    public static readonly IReadOnlyList<string> Scenarios = ["drift", "pages", "embeddings", "interaction"];

    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>Writes the table of a scenario.</summary>
    public static void Write(string scenario, TextWriter output, Action<string> progress)
    {
        switch (scenario)
        {
            case "drift":
                Drift(output, progress);
                break;
            case "pages":
                Pages(output, progress);
                break;
            case "embeddings":
                Embeddings(output, progress);
                break;
            case "interaction":
                Interaction(output, progress);
                break;
            default:
                throw new ArgumentException($"unknown scenario '{scenario}' (known: stationary, {string.Join(", ", Scenarios)})", nameof(scenario));
        }
    }

    /// <summary>The drift table: every world × traffic × half-life (about 36 runs of 480,000 impressions).</summary>
    public static void Drift(TextWriter output, Action<string> progress)
    {
        output.WriteLine("| world | impressions / hour | half-life (h) | greedy before | right after | end | best possible | random | impressions to 80% of the lift | served, 2nd half |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        (string World, double Rate)[] runs =
            [("stationary", 10_000), ("stationary", 1_000), ("taste-shift", 10_000), ("taste-shift", 1_000), ("novelty", 10_000), ("fatigue", 10_000)];
        foreach (var (world, rate) in runs)
        {
            foreach (var h in LearningExperiments.HalfLives)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var r = LearningExperiments.Drift(world, rate, h);
                output.WriteLine(string.Create(Ci,
                    $"| {r.World} | {r.ImpressionsPerHour:N0} | {(h == 0 ? "never" : h.ToString(Ci))} | {r.Before:F4} | {r.JustAfter:F4} | {r.End:F4} | {r.Oracle:F4} | {r.Random:F4} | {(world == "taste-shift" ? r.Recovery?.ToString("N0", Ci) ?? "not within 240,000" : "")} | {r.ServedSecondHalf:F4} |"));
                progress(string.Create(Ci, $"drift {world} {rate} h={h}: {clock.Elapsed.TotalSeconds:F1} s"));
            }
        }
    }

    /// <summary>The page table: page effect × page policy penalty.</summary>
    public static void Pages(TextWriter output, Action<string> progress)
    {
        output.WriteLine("| repeat penalty (world) | page policy penalty | page take (greedy) | take per title | page take while learning (ε-greedy) |");
        output.WriteLine("|---:|---:|---:|---:|---:|");
        foreach (var repeat in new[] { 0.0, 0.3, 0.5 })
        {
            foreach (var penalty in new[] { 0f, 0.05f, 0.1f, 0.15f })
            {
                var r = LearningExperiments.Pages(repeat, penalty);
                output.WriteLine(string.Create(Ci,
                    $"| {repeat:0.0} | {(penalty == 0 ? "off" : penalty.ToString("0.00", Ci))} | {r.PageTake:F4} | {r.TitleTake:F4} | {r.ServedPageTake:F4} |"));
                progress(string.Create(Ci, $"pages repeat {repeat} penalty {penalty}"));
            }
        }
    }

    /// <summary>The embedding table: ε-greedy and Thompson serving, with and without embeddings.</summary>
    public static void Embeddings(TextWriter output, Action<string> progress)
    {
        output.WriteLine("| serving | embeddings | new images' first 100 impressions: take | best possible for those requests | greedy when added | best possible | greedy 10,000 impressions later |");
        output.WriteLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var policy in new[] { PolicyKind.EpsilonGreedy, PolicyKind.Thompson })
        {
            foreach (var embeddings in new[] { false, true })
            {
                var r = LearningExperiments.Embeddings(policy, embeddings);
                var n = r.NewImages;
                output.WriteLine(string.Create(Ci,
                    $"| {(policy == PolicyKind.Thompson ? "Thompson" : "ε-greedy")} | {(embeddings ? "yes" : "no")} | {n.Take:F4} | {n.BestPossibleTake:F4} | {n.AtIntroduction.GreedyTake:F4} | {n.AtIntroduction.OptimalTake:F4} | {r.AfterTenThousand.GreedyTake:F4} |"));
                progress($"embeddings {policy} {embeddings}");
            }
        }
    }

    /// <summary>The prior-interaction table: schema 1 against schema 2, by segment.</summary>
    public static void Interaction(TextWriter output, Action<string> progress)
    {
        output.WriteLine("| schema | impressions | greedy take | interacted: greedy / random / best | share of the lift | not interacted: greedy / random / best | share of the lift |");
        output.WriteLine("|---:|---:|---:|---|---:|---|---:|");
        foreach (var schema in LearningExperiments.Schemas)
        {
            foreach (var row in LearningExperiments.Interaction(schema, [10_000, 50_000, 200_000]))
            {
                var (p, y, n) = (row.Point, row.Point.Interacted, row.Point.NotInteracted);
                output.WriteLine(string.Create(Ci,
                    $"| {schema} | {p.Impressions:N0} | {p.GreedyTake:F4} | {y.Greedy:F4} / {y.Random:F4} / {y.Optimal:F4} | {y.LiftShare:F3} | {n.Greedy:F4} / {n.Random:F4} / {n.Optimal:F4} | {n.LiftShare:F3} |"));
            }

            progress($"interaction schema {schema}");
        }
    }
}
