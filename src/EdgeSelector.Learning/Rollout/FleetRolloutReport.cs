using EdgeSelector.Core.Rollout;

namespace EdgeSelector.Learning.Rollout;

/// <summary>
/// The fleet-wide online take fraction of a candidate and the control plane's test on it, as <c>edgesel train --nats</c>
/// reports it (field <c>rollout</c> of <c>--json</c>; docs/rollout.md, "Fleet").
/// </summary>
public sealed record FleetRolloutReport
{
    /// <summary>The candidate counted.</summary>
    public ulong CandidateVersion { get; init; }

    /// <summary>The active version it is tried against.</summary>
    public ulong ActiveVersion { get; init; }

    /// <summary>Its share of members.</summary>
    public double Fraction { get; init; }

    /// <summary>The candidate pointer's state when the run read it (<c>running</c>, <c>promoted</c>, <c>rolled_back</c>).</summary>
    public string State { get; init; } = string.Empty;

    /// <summary>When the trial started (unix ms).</summary>
    public long StartedAtMs { get; init; }

    /// <summary>Both arms over every node, then per (arm, bundle version).</summary>
    public List<ArmTakeFraction> Arms { get; init; } = [];

    /// <summary>The always-valid test of candidate − control on the fleet's counts (Core's <see cref="RolloutTest"/>, the node's test).</summary>
    public string Verdict { get; init; } = string.Empty;

    /// <summary>Take fraction candidate − control.</summary>
    public double? TakeDifference { get; init; }

    /// <summary>Its always-valid lower bound.</summary>
    public double? TakeDifferenceLow { get; init; }

    /// <summary>Its always-valid upper bound.</summary>
    public double? TakeDifferenceHigh { get; init; }

    /// <summary>Fallback fraction candidate − control.</summary>
    public double? FallbackDifference { get; init; }

    /// <summary>Candidate-arm impressions still needed before a promotion.</summary>
    public long ImpressionsToPromotion { get; init; }

    /// <summary><c>keep</c>, <c>promote</c> or <c>rollback</c>.</summary>
    public string Decision { get; init; } = "keep";

    /// <summary>Why (the interval that decided it).</summary>
    public string Reason { get; init; } = string.Empty;

    /// <summary>True when the decision was published to the fleet (the candidate pointer moved).</summary>
    public bool Published { get; init; }

    /// <summary>Rewards that found no impression of the trial.</summary>
    public long UnjoinedRewards { get; init; }

    /// <summary>Rewards waiting for their impression (joined by a later run).</summary>
    public int PendingRewards { get; init; }

    /// <summary>The report of <paramref name="tally"/> judged as <paramref name="judgement"/>.</summary>
    public static FleetRolloutReport Of(FleetRolloutTally tally, RolloutJudgement judgement, double fraction, string state, ulong activeVersion)
    {
        ArgumentNullException.ThrowIfNull(tally);
        List<ArmTakeFraction> arms = [ArmTakeFraction.Of("control", null, tally.Counts(Arm.Control)), ArmTakeFraction.Of("candidate", null, tally.Counts(Arm.Candidate))];
        arms.AddRange(tally.Rows.Select(r => ArmTakeFraction.Of(r.Arm, r.BundleVersion, new ArmCounts(r.Impressions, r.Fallbacks, r.Rewards, r.Takes))));
        return new FleetRolloutReport
        {
            CandidateVersion = tally.CandidateVersion,
            ActiveVersion = activeVersion,
            Fraction = fraction,
            State = state,
            StartedAtMs = tally.StartedAtMs,
            Arms = arms,
            Verdict = judgement.VerdictName,
            TakeDifference = Finite(judgement.Take.Estimate),
            TakeDifferenceLow = Finite(judgement.Take.Low),
            TakeDifferenceHigh = Finite(judgement.Take.High),
            FallbackDifference = Finite(judgement.Fallback.Estimate),
            ImpressionsToPromotion = judgement.ImpressionsToPromotion,
            Decision = judgement.ActionName,
            Reason = judgement.Reason,
            UnjoinedRewards = tally.UnjoinedRewards,
            PendingRewards = tally.PendingRewards,
        };
    }

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}

/// <summary>One arm's fleet-wide take fraction (all its bundle versions when <see cref="BundleVersion"/> is null).</summary>
public sealed record ArmTakeFraction
{
    /// <summary><c>control</c> or <c>candidate</c>.</summary>
    public string Arm { get; init; } = string.Empty;

    /// <summary>The bundle version that scored the titles; null for the arm's total.</summary>
    public ulong? BundleVersion { get; init; }

    /// <summary>Titles served.</summary>
    public long Impressions { get; init; }

    /// <summary>Of which default images.</summary>
    public long Fallbacks { get; init; }

    /// <summary>Rewards joined.</summary>
    public long Rewards { get; init; }

    /// <summary>Of which takes.</summary>
    public long Takes { get; init; }

    /// <summary>Takes per impression (null before the first impression).</summary>
    public double? TakeFraction { get; init; }

    /// <summary>95% Wilson interval, lower bound.</summary>
    public double? TakeFractionLow { get; init; }

    /// <summary>95% Wilson interval, upper bound.</summary>
    public double? TakeFractionHigh { get; init; }

    /// <summary>The row of <paramref name="counts"/>.</summary>
    public static ArmTakeFraction Of(string arm, ulong? version, ArmCounts counts)
    {
        var take = ConfidenceSequence.Wilson(counts.Takes, counts.Impressions);
        return new ArmTakeFraction
        {
            Arm = arm,
            BundleVersion = version,
            Impressions = counts.Impressions,
            Fallbacks = counts.Fallbacks,
            Rewards = counts.Rewards,
            Takes = counts.Takes,
            TakeFraction = double.IsFinite(take.Estimate) ? take.Estimate : null,
            TakeFractionLow = double.IsFinite(take.Low) ? take.Low : null,
            TakeFractionHigh = double.IsFinite(take.High) ? take.High : null,
        };
    }
}
