using System.Globalization;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Numerics;
using EdgeSelector.Core.Selection;
using EdgeSelector.Learning.Evaluation;
using EdgeSelector.Learning.Evaluation.Data;
using EdgeSelector.Learning.Evaluation.Policies;
using EdgeSelector.Learning.Join;

namespace EdgeSelector.Learning.Rollout;

/// <summary>How the offline gate of <c>edgesel train --gate</c> decides (docs/rollout.md, "Offline gate").</summary>
public sealed record GateOptions
{
    /// <summary>Share of the run's examples held out from the gate's model and used to judge it.</summary>
    public double HoldoutFraction { get; init; } = 0.2;

    /// <summary>The candidate passes an estimator when its lower bound ≥ the incumbent's value − this margin.</summary>
    public double Margin { get; init; } = 0.005;

    /// <summary>The estimators that must all pass (the existing ones, docs/evaluation.md).</summary>
    public IReadOnlyList<string> Estimators { get; init; } = ["dr", "snips"];

    /// <summary>The serving policy both bundles are valued under (what the nodes run).</summary>
    public SelectionOptions Serving { get; init; } = new();

    /// <summary>Fewer held-out rows than this: refuse (the intervals would mean little).</summary>
    public int MinRows { get; init; } = 200;

    /// <summary>Seed of the hold-out split and of the estimators' cross-fitting.</summary>
    public ulong Seed { get; init; } = 15;
}

/// <summary>One estimator's verdict (an undefined value is written as "NaN").</summary>
[System.Text.Json.Serialization.JsonNumberHandling(System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals)]
public sealed record GateEstimate(
    string Estimator, double IncumbentValue, double IncumbentLow, double IncumbentHigh,
    double CandidateValue, double CandidateLow, double CandidateHigh, bool Passed, string? Warning);

/// <summary>What the gate decided, and why.</summary>
public sealed record GateReport
{
    /// <summary>True: publish the new bundle (as a candidate only).</summary>
    public bool Publish { get; init; }

    /// <summary>Why it published or refused, in one sentence.</summary>
    public string Reason { get; init; } = string.Empty;

    /// <summary>Version of the bundle the nodes serve now, valued as the baseline.</summary>
    public ulong IncumbentVersion { get; init; }

    /// <summary>Version of the newly trained bundle the gate judged.</summary>
    public ulong CandidateVersion { get; init; }

    /// <summary>Logged examples held out from training and used to value both bundles.</summary>
    public long HoldoutRows { get; init; }

    /// <summary>Logged examples the candidate was trained on.</summary>
    public long TrainingRows { get; init; }

    /// <summary>The margin applied (<see cref="GateOptions.Margin"/>): how far below the incumbent a lower bound may fall.</summary>
    public double Margin { get; init; }

    /// <summary>Each estimator's values, intervals and verdict, in the order of <see cref="GateOptions.Estimators"/>.</summary>
    public List<GateEstimate> Estimates { get; init; } = [];
}

/// <summary>
/// The offline gate: values the incumbent bundle and a new one on held-out recent logged data with the existing
/// off-policy estimators (doubly robust and SNIPS, with their 95% intervals) and lets the new one be published — as a
/// candidate, never straight to active — only when, for every estimator, its lower bound is not below the
/// incumbent's value by more than the margin.
/// </summary>
public static class OfflineGate
{
    private const ulong Salt = 0x6A7E_0FF1_1E5E_ED15;

    /// <summary>True for the examples the gate holds out (a seeded hash of the event id, so reruns agree).</summary>
    public static bool IsHeldOut(ulong eventId, double fraction, ulong seed) =>
        Hash64.ToUnit(Hash64.Mix(eventId ^ Hash64.Mix(seed ^ Salt))) < fraction;

    /// <summary>Splits a run's examples into those the gate's model trains on and those that judge it.</summary>
    public static (List<LabeledExample> Train, List<LabeledExample> Holdout) Split(IReadOnlyList<LabeledExample> examples, GateOptions options)
    {
        var train = new List<LabeledExample>(examples.Count);
        var holdout = new List<LabeledExample>();
        foreach (var example in examples)
        {
            (IsHeldOut(example.Impression.EventId, options.HoldoutFraction, options.Seed) ? holdout : train).Add(example);
        }

        return (train, holdout);
    }

    /// <summary>
    /// Values <paramref name="incumbent"/> and <paramref name="candidate"/> (title → served model blob) on
    /// <paramref name="holdout"/> and decides. Rows whose title either bundle lacks, or whose candidate count differs
    /// from a bundle's model, are left out (a policy cannot be valued there).
    /// </summary>
    public static GateReport Decide(
        IReadOnlyDictionary<uint, byte[]> incumbent, ulong incumbentVersion, IReadOnlyDictionary<uint, byte[]> candidate, ulong candidateVersion,
        IReadOnlyList<LabeledExample> holdout, long trainingRows, GateOptions options)
    {
        var rows = holdout.Where(e => Fits(incumbent, e) && Fits(candidate, e)).ToList();
        var report = new GateReport
        {
            IncumbentVersion = incumbentVersion,
            CandidateVersion = candidateVersion,
            HoldoutRows = rows.Count,
            TrainingRows = trainingRows,
            Margin = options.Margin,
        };
        if (rows.Count < options.MinRows)
        {
            return report with { Reason = $"refused: only {rows.Count} held-out rows to value the bundles on (the gate needs {options.MinRows})" };
        }

        var source = new ExampleSource(rows);
        var evaluation = new EvaluationOptions { Seed = options.Seed };
        var reports = OffPolicyEvaluator.Evaluate(
            source, [new EnginePolicy(incumbent, options.Serving), new EnginePolicy(candidate, options.Serving)], options.Estimators, evaluation);
        var estimates = new List<GateEstimate>();
        var ci = CultureInfo.InvariantCulture;
        var failures = new List<string>();
        var passes = new List<string>();
        for (var i = 0; i < options.Estimators.Count; i++)
        {
            var inc = reports[0].Results[i];
            var cand = reports[1].Results[i];
            var passed = double.IsFinite(cand.CiLow) && double.IsFinite(inc.Value) && cand.CiLow >= inc.Value - options.Margin;
            estimates.Add(new GateEstimate(inc.Name, inc.Value, inc.CiLow, inc.CiHigh, cand.Value, cand.CiLow, cand.CiHigh, passed, cand.Warning ?? inc.Warning));
            var line = string.Create(ci, $"{inc.Name}: candidate {cand.Value:0.#####} [{cand.CiLow:0.#####}, {cand.CiHigh:0.#####}], lower bound {(passed ? "not below" : "below")} incumbent {inc.Value:0.#####} - margin {options.Margin}");
            (passed ? passes : failures).Add(line);
        }

        var publish = failures.Count == 0;
        return report with
        {
            Publish = publish,
            Reason = publish
                ? $"published as a candidate: {string.Join("; ", passes)}"
                : $"refused: {string.Join("; ", failures)}",
            Estimates = estimates,
        };
    }

    private static bool Fits(IReadOnlyDictionary<uint, byte[]> models, in LabeledExample example) =>
        models.TryGetValue(example.Impression.TitleId, out var blob)
        && ModelView.TryOpen(blob, ModelCheck.Structure, out var view, out _)
        && view.ImageCount == example.Impression.CandidateCount;

    /// <summary>Labelled examples as a logged bandit source: reward 1 for a take (the join's label), else 0.</summary>
    private sealed class ExampleSource(IReadOnlyList<LabeledExample> rows) : ILoggedBanditSource
    {
        public IReadOnlyList<string> FeatureNames => ImpressionLogSource.Names;

        public ILoggedSampleReader OpenReader() => new Reader(rows);

        private sealed class Reader(IReadOnlyList<LabeledExample> rows) : ILoggedSampleReader
        {
            private int _next;

            public bool TryRead(LoggedSample sample)
            {
                if (_next >= rows.Count)
                {
                    return false;
                }

                var row = rows[_next];
                sample.RowIndex = _next++;
                ImpressionLogSource.Fill(row.Impression, row.Label ? 1 : 0, sample);
                return true;
            }

            public void Dispose()
            {
            }
        }
    }
}
