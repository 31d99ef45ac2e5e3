using System.Text.Json.Serialization;

namespace EdgeSelector.Server.Rollout;

/// <summary>What the node persists in <c>&lt;DataDir&gt;/rollout/state.json</c> (beside <c>candidate.esb</c>).</summary>
public sealed record RolloutStateFile
{
    /// <summary>The id the next candidate started will get.</summary>
    public int NextId { get; init; } = 1;

    /// <summary>The candidate being tried, with its counts; null when none.</summary>
    public CandidateState? Candidate { get; init; }

    /// <summary>
    /// A promotion the model store answered Pending and had not finished when this was written (finished by the first
    /// evaluation after a restart); null when none, and absent from files written before it was persisted.
    /// </summary>
    public PendingPromotionState? PendingPromotion { get; init; }

    /// <summary>The last decisions (at most 100), oldest first.</summary>
    public List<RolloutDecision> Decisions { get; init; } = [];
}

/// <summary>A pending promotion, as persisted (its bundle stays in <c>candidate.esb</c> until it is finished).</summary>
public sealed record PendingPromotionState
{
    /// <summary>The promoted candidate and its evidence when the trial ended.</summary>
    public CandidateState Candidate { get; init; } = new();

    /// <summary>Who promoted it (<c>auto</c>, <c>operator</c>).</summary>
    public string By { get; init; } = string.Empty;

    /// <summary>Why it was promoted; the finishing decision repeats it.</summary>
    public string Reason { get; init; } = string.Empty;
}

/// <summary>The running candidate and its evidence, as persisted.</summary>
public sealed record CandidateState
{
    /// <summary>Which candidate this is (they are numbered as they start), so counts never carry over to another.</summary>
    public int Id { get; init; }

    /// <summary>The candidate bundle's version.</summary>
    public ulong Version { get; init; }

    /// <summary>Share of members sent to the candidate, 0 to 1.</summary>
    public double Fraction { get; init; }

    /// <summary>When the candidate started, Unix milliseconds.</summary>
    public long StartedAtMs { get; init; }

    /// <summary>Published by the fleet's control plane (decided there).</summary>
    public bool Fleet { get; init; }

    /// <summary>Counts of the members served by the active bundle.</summary>
    public ArmCountsDto Control { get; init; } = new();

    /// <summary>Counts of the members served by the candidate.</summary>
    public ArmCountsDto Candidate { get; init; } = new();
}

/// <summary>Counts of one arm.</summary>
public sealed record ArmCountsDto
{
    /// <summary>Titles served in the arm, fallbacks included.</summary>
    public long Impressions { get; init; }

    /// <summary>Of those, titles answered with a default image.</summary>
    public long Fallbacks { get; init; }

    /// <summary>Rewards joined to an impression of the arm.</summary>
    public long Rewards { get; init; }

    /// <summary>Of those, takes: a play that lasted long enough (RolloutOptions.TakeMinMinutes or TakeMinFraction).</summary>
    public long Takes { get; init; }
}

/// <summary>One decision of the rollout (started, fraction, promote, rollback, superseded, replaced).</summary>
public sealed record RolloutDecision
{
    /// <summary>When it was decided, Unix milliseconds.</summary>
    public long AtMs { get; init; }

    /// <summary><c>started</c>, <c>fraction</c>, <c>promote</c>, <c>promote_pending</c>, <c>rollback</c>, <c>superseded</c>, <c>replaced</c>, <c>promote_failed</c>, <c>dropped</c>.</summary>
    public string Action { get; init; } = string.Empty;

    /// <summary>Who decided: <c>auto</c> (the node's sequential test), <c>operator</c> (an admin call) or <c>fleet</c> (the control plane's test on the fleet's counts).</summary>
    public string By { get; init; } = "auto";

    /// <summary>The candidate bundle's version at the time.</summary>
    public ulong CandidateVersion { get; init; }

    /// <summary>The active bundle's version after the decision.</summary>
    public ulong ActiveVersion { get; init; }

    /// <summary>Why, in one sentence.</summary>
    public string Reason { get; init; } = string.Empty;

    /// <summary>Control-arm impressions at the time.</summary>
    public long ControlImpressions { get; init; }

    /// <summary>Candidate-arm impressions at the time.</summary>
    public long CandidateImpressions { get; init; }

    /// <summary>Candidate − control take fraction at the time (null before both arms had impressions).</summary>
    public double? TakeDifference { get; init; }

    /// <summary>Lower always-valid bound of the take difference at the time.</summary>
    public double? TakeDifferenceLow { get; init; }

    /// <summary>Upper always-valid bound of the take difference at the time.</summary>
    public double? TakeDifferenceHigh { get; init; }
}

/// <summary>GET /v1/rollout.</summary>
public sealed record RolloutStatus
{
    /// <summary>Version of the bundle served to the control arm (and to everyone without a candidate).</summary>
    public ulong ActiveVersion { get; init; }

    /// <summary>The candidate being tried; null when none.</summary>
    public CandidateInfo? Candidate { get; init; }

    /// <summary>A promoted candidate the model store is still making durable (null: none): promoted once it takes effect.</summary>
    public ulong? PromotionPending { get; init; }

    /// <summary>Control and candidate arms' counts and take fractions (empty without a candidate).</summary>
    public List<ArmStatus> Arms { get; init; } = [];

    /// <summary>The always-valid test of candidate − control; null without a candidate.</summary>
    public TestStatus? Test { get; init; }

    /// <summary>Rewards this node took whose event the in-memory index did not hold (another node's, too old, before a restart).</summary>
    public long RewardsUnjoined { get; init; }

    /// <summary>The last decisions (at most 100), oldest first.</summary>
    public List<RolloutDecision> Decisions { get; init; } = [];

    /// <summary>The rollout configuration in force.</summary>
    public RolloutSettings Settings { get; init; } = new();
}

/// <summary>The candidate being tried.</summary>
public sealed record CandidateInfo
{
    /// <summary>The candidate bundle's version.</summary>
    public ulong Version { get; init; }

    /// <summary>The version it was trained from; a partial candidate falls back to the active bundle for titles it lacks.</summary>
    public ulong ParentVersion { get; init; }

    /// <summary>Share of members sent to it, 0 to 1.</summary>
    public double Fraction { get; init; }

    /// <summary>True for a full bundle (every title it serves); false for a partial one over the active bundle.</summary>
    public bool Full { get; init; }

    /// <summary>Number of title models it carries.</summary>
    public int Titles { get; init; }

    /// <summary>When it started, Unix milliseconds.</summary>
    public long StartedAtMs { get; init; }

    /// <summary>Key id it was signed with (who made it).</summary>
    public string KeyId { get; init; } = string.Empty;

    /// <summary>Who decides it: <c>node</c> (this node's test) or <c>fleet</c> (the control plane, on the fleet's counts).</summary>
    public string DecidedBy { get; init; } = "node";
}

/// <summary>One arm's online take fraction.</summary>
public sealed record ArmStatus
{
    /// <summary><c>control</c> or <c>candidate</c>.</summary>
    public string Arm { get; init; } = string.Empty;

    /// <summary>Version of the bundle the arm is served from.</summary>
    public ulong BundleVersion { get; init; }

    /// <summary>Titles served in the arm, fallbacks included.</summary>
    public long Impressions { get; init; }

    /// <summary>Of those, titles answered with a default image.</summary>
    public long Fallbacks { get; init; }

    /// <summary>Rewards joined to an impression of the arm.</summary>
    public long Rewards { get; init; }

    /// <summary>Of those, takes (a play that lasted long enough).</summary>
    public long Takes { get; init; }

    /// <summary>Takes per impression (null before the first impression).</summary>
    public double? TakeFraction { get; init; }

    /// <summary>95% Wilson interval of the take fraction at this sample size.</summary>
    public double? TakeFractionLow { get; init; }

    /// <summary>Upper end of that interval.</summary>
    public double? TakeFractionHigh { get; init; }

    /// <summary>Fallbacks per impression (null before the first impression).</summary>
    public double? FallbackFraction { get; init; }
}

/// <summary>The always-valid test of candidate − control.</summary>
public sealed record TestStatus
{
    /// <summary>Candidate − control take fraction (null until both arms have impressions).</summary>
    public double? TakeDifference { get; init; }

    /// <summary>Lower always-valid bound of the take difference.</summary>
    public double? TakeDifferenceLow { get; init; }

    /// <summary>Upper always-valid bound of the take difference.</summary>
    public double? TakeDifferenceHigh { get; init; }

    /// <summary>Candidate − control fallback fraction.</summary>
    public double? FallbackDifference { get; init; }

    /// <summary>Lower always-valid bound of the fallback difference.</summary>
    public double? FallbackDifferenceLow { get; init; }

    /// <summary>Upper always-valid bound of the fallback difference.</summary>
    public double? FallbackDifferenceHigh { get; init; }

    /// <summary><c>collecting</c>, <c>worse</c>, <c>fallbacks</c>, <c>not_worse</c> (promotable), <c>inconclusive</c>.</summary>
    public string Verdict { get; init; } = string.Empty;

    /// <summary>Candidate-arm impressions still needed before a promotion (0 when reached).</summary>
    public long ImpressionsToPromotion { get; init; }
}

/// <summary>The rollout configuration in force.</summary>
public sealed record RolloutSettings
{
    /// <summary>True when the node promotes and rolls back on its own; false = it only reports.</summary>
    public bool AutoDecide { get; init; }

    /// <summary>Error rate of the always-valid test over all looks.</summary>
    public double Alpha { get; init; }

    /// <summary>Standard deviation of the normal mixture: the take difference the test detects fastest.</summary>
    public double MixtureTau { get; init; }

    /// <summary>Impressions each arm needs before it is judged.</summary>
    public long MinImpressionsPerArm { get; init; }

    /// <summary>Candidate-arm impressions before a candidate that is not worse is promoted.</summary>
    public long PromoteAfterImpressions { get; init; }

    /// <summary>"Not worse": the take difference's lower bound is above minus this margin.</summary>
    public double NonInferiorityMargin { get; init; }

    /// <summary>Rolled back when the fallback difference's lower bound exceeds this.</summary>
    public double FallbackMargin { get; init; }

    /// <summary>Capacity of the in-memory index of recent events that joins rewards to arms.</summary>
    public int RecentEvents { get; init; }
}

/// <summary>Body of PUT /v1/rollout/fraction.</summary>
public sealed record FractionBody
{
    /// <summary>The candidate's new share of members, 0 to 1.</summary>
    public double? Fraction { get; init; }
}

/// <summary>Answer of the rollout's write calls.</summary>
public sealed record RolloutResult(string Status, ulong CandidateVersion, double Fraction, ulong ActiveVersion, string Message);

/// <summary>Source-generated JSON of the rollout (native AOT: no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RolloutStateFile))]
[JsonSerializable(typeof(RolloutStatus))]
[JsonSerializable(typeof(FractionBody))]
[JsonSerializable(typeof(RolloutResult))]
public sealed partial class RolloutJsonContext : JsonSerializerContext;
