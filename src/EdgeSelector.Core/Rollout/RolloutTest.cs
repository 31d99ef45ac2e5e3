using System.Globalization;

namespace EdgeSelector.Core.Rollout;

/// <summary>The counts of one arm at a moment: titles served, of which default images, rewards joined, of which takes.</summary>
/// <param name="Impressions">Titles served in the arm (model decisions and fallbacks).</param>
/// <param name="Fallbacks">Titles of the arm answered with the default image.</param>
/// <param name="Rewards">Rewards joined to the arm.</param>
/// <param name="Takes">Joined rewards that are takes (quality plays).</param>
public readonly record struct ArmCounts(long Impressions, long Fallbacks, long Rewards, long Takes)
{
    /// <summary>The sum of two counts (two nodes, or two bundle versions of one arm).</summary>
    public static ArmCounts operator +(ArmCounts a, ArmCounts b) =>
        new(a.Impressions + b.Impressions, a.Fallbacks + b.Fallbacks, a.Rewards + b.Rewards, a.Takes + b.Takes);

    /// <summary>The same as <c>+</c>, for languages without operators.</summary>
    public static ArmCounts Add(ArmCounts a, ArmCounts b) => a + b;
}

/// <summary>What the evidence says about candidate − control (docs/rollout.md, "The test").</summary>
public enum RolloutVerdict
{
    /// <summary>An arm has fewer than the minimum impressions: no verdict yet.</summary>
    Collecting,

    /// <summary>The upper bound of the take difference is below 0.</summary>
    Worse,

    /// <summary>The lower bound of the fallback difference is above the fallback margin.</summary>
    Fallbacks,

    /// <summary>The lower bound of the take difference is above −margin (promotable once the evidence is in).</summary>
    NotWorse,

    /// <summary>None of the above.</summary>
    Inconclusive,
}

/// <summary>What to do with the candidate.</summary>
public enum RolloutAction
{
    /// <summary>Keep trying it.</summary>
    Keep,

    /// <summary>Make it the active bundle.</summary>
    Promote,

    /// <summary>Withdraw it: every member back on the active bundle.</summary>
    Rollback,
}

/// <summary>The settings of the sequential test (the node's <c>EdgeSelector:Rollout</c> keys, the control plane's <c>--rollout-*</c> options).</summary>
public sealed record RolloutTestOptions
{
    /// <summary>Error rate of each always-valid sequence over all looks.</summary>
    public double Alpha { get; init; } = 0.05;

    /// <summary>Standard deviation τ of the normal mixture over the take difference.</summary>
    public double MixtureTau { get; init; } = 0.02;

    /// <summary>No verdict before both arms have this many impressions.</summary>
    public long MinImpressionsPerArm { get; init; } = 500;

    /// <summary>Candidate-arm impressions before a candidate that is not worse is promoted.</summary>
    public long PromoteAfterImpressions { get; init; } = 20_000;

    /// <summary>"Not worse": the lower bound of the take difference is above −margin.</summary>
    public double NonInferiorityMargin { get; init; } = 0.005;

    /// <summary>Rolled back when the lower bound of the fallback difference exceeds this.</summary>
    public double FallbackMargin { get; init; } = 0.01;

    /// <summary>The first setting that is out of range, as a message naming it; null when all are valid.</summary>
    public string? Problem() =>
        !(Alpha is > 0 and < 1) ? "alpha must be in (0, 1)"
        : !(MixtureTau > 0) || !double.IsFinite(MixtureTau) ? "tau must be positive"
        : MinImpressionsPerArm < 1 ? "the minimum impressions per arm must be at least 1"
        : PromoteAfterImpressions < 1 ? "the impressions before a promotion must be at least 1"
        : !(NonInferiorityMargin >= 0) || !double.IsFinite(NonInferiorityMargin) ? "the non-inferiority margin must not be negative"
        : !(FallbackMargin >= 0) || !double.IsFinite(FallbackMargin) ? "the fallback margin must not be negative"
        : null;
}

/// <summary>One look at the evidence: the verdict, both always-valid intervals, what to do and why.</summary>
/// <param name="Verdict">What the intervals say.</param>
/// <param name="Take">Take fraction candidate − control with its always-valid interval.</param>
/// <param name="Fallback">Fallback fraction candidate − control with its always-valid interval.</param>
/// <param name="ImpressionsToPromotion">Candidate-arm impressions still needed before a promotion (0 when reached).</param>
/// <param name="Action">Promote, roll back or keep.</param>
/// <param name="Reason">One line for a person: the verdict with the interval that decided it.</param>
public readonly record struct RolloutJudgement(RolloutVerdict Verdict, Interval Take, Interval Fallback, long ImpressionsToPromotion, RolloutAction Action, string Reason)
{
    /// <summary>The verdict as the admin API and the CLI spell it (<c>collecting</c>, <c>worse</c>, <c>fallbacks</c>, <c>not_worse</c>, <c>inconclusive</c>).</summary>
    public string VerdictName => RolloutTest.Name(Verdict);

    /// <summary>The action as decisions record it (<c>keep</c>, <c>promote</c>, <c>rollback</c>).</summary>
    public string ActionName => Action switch { RolloutAction.Promote => "promote", RolloutAction.Rollback => "rollback", _ => "keep" };
}

/// <summary>
/// The sequential test of a rollout, in one place for the node (on its own counts) and for the control plane (on the
/// fleet's counts, <c>edgesel train --nats</c>): an always-valid confidence sequence
/// (<see cref="ConfidenceSequence.Difference"/>) on candidate − control of the take fraction and of the fallback
/// fraction, judged on every look. Worse, or more fallbacks than the margin: roll back; not worse once the candidate
/// arm has the configured evidence: promote; otherwise keep collecting. docs/rollout.md, "The test".
/// </summary>
public static class RolloutTest
{
    /// <summary>Judges the evidence.</summary>
    public static RolloutJudgement Judge(ArmCounts control, ArmCounts candidate, RolloutTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var take = ConfidenceSequence.Difference(candidate.Takes, candidate.Impressions, control.Takes, control.Impressions, options.MixtureTau, options.Alpha);
        var fallback = ConfidenceSequence.Difference(candidate.Fallbacks, candidate.Impressions, control.Fallbacks, control.Impressions, options.MixtureTau, options.Alpha);
        var verdict = control.Impressions < options.MinImpressionsPerArm || candidate.Impressions < options.MinImpressionsPerArm ? RolloutVerdict.Collecting
            : take.High < 0 ? RolloutVerdict.Worse
            : fallback.Low > options.FallbackMargin ? RolloutVerdict.Fallbacks
            : take.Low > -options.NonInferiorityMargin ? RolloutVerdict.NotWorse
            : RolloutVerdict.Inconclusive;
        var toPromotion = Math.Max(0, options.PromoteAfterImpressions - candidate.Impressions);
        var ci = CultureInfo.InvariantCulture;
        var level = 1 - options.Alpha;
        return verdict switch
        {
            RolloutVerdict.Worse => new(verdict, take, fallback, toPromotion, RolloutAction.Rollback, string.Create(ci,
                $"worse: take fraction candidate - control {take.Estimate:0.#####}, always-valid {level:0.##} interval [{take.Low:0.#####}, {take.High:0.#####}] is below 0")),
            RolloutVerdict.Fallbacks => new(verdict, take, fallback, toPromotion, RolloutAction.Rollback, string.Create(ci,
                $"fallbacks: fallback fraction candidate - control {fallback.Estimate:0.#####}, interval [{fallback.Low:0.#####}, {fallback.High:0.#####}] is above the margin {options.FallbackMargin}")),
            RolloutVerdict.NotWorse when toPromotion == 0 => new(verdict, take, fallback, 0, RolloutAction.Promote, string.Create(ci,
                $"not worse: take fraction candidate - control {take.Estimate:0.#####}, interval [{take.Low:0.#####}, {take.High:0.#####}] is above -{options.NonInferiorityMargin} after {candidate.Impressions} candidate impressions")),
            RolloutVerdict.NotWorse => new(verdict, take, fallback, toPromotion, RolloutAction.Keep, string.Create(ci,
                $"not worse so far: {toPromotion} more candidate impressions before a promotion")),
            RolloutVerdict.Collecting => new(verdict, take, fallback, toPromotion, RolloutAction.Keep, string.Create(ci,
                $"collecting: {control.Impressions} control and {candidate.Impressions} candidate impressions, {options.MinImpressionsPerArm} per arm needed")),
            _ => new(verdict, take, fallback, toPromotion, RolloutAction.Keep, string.Create(ci,
                $"inconclusive: take fraction candidate - control {take.Estimate:0.#####}, interval [{take.Low:0.#####}, {take.High:0.#####}]")),
        };
    }

    /// <summary>The verdict's name in the admin API and the CLI.</summary>
    public static string Name(RolloutVerdict verdict) => verdict switch
    {
        RolloutVerdict.Collecting => "collecting",
        RolloutVerdict.Worse => "worse",
        RolloutVerdict.Fallbacks => "fallbacks",
        RolloutVerdict.NotWorse => "not_worse",
        _ => "inconclusive",
    };
}
