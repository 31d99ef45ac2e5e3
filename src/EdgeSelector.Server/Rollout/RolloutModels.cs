using System.Text.Json.Serialization;

namespace EdgeSelector.Server.Rollout;

/// <summary>What the node persists in <c>&lt;DataDir&gt;/rollout/state.json</c> (beside <c>candidate.esb</c>).</summary>
public sealed record RolloutStateFile
{
    public int NextId { get; init; } = 1;

    public CandidateState? Candidate { get; init; }

    public List<RolloutDecision> Decisions { get; init; } = [];
}

/// <summary>The running candidate and its evidence, as persisted.</summary>
public sealed record CandidateState
{
    public int Id { get; init; }

    public ulong Version { get; init; }

    public double Fraction { get; init; }

    public long StartedAtMs { get; init; }

    /// <summary>Published by the fleet's control plane (decided there).</summary>
    public bool Fleet { get; init; }

    public ArmCountsDto Control { get; init; } = new();

    public ArmCountsDto Candidate { get; init; } = new();
}

/// <summary>Counts of one arm.</summary>
public sealed record ArmCountsDto
{
    public long Impressions { get; init; }

    public long Fallbacks { get; init; }

    public long Rewards { get; init; }

    public long Takes { get; init; }
}

/// <summary>One decision of the rollout (started, fraction, promote, rollback, superseded, replaced).</summary>
public sealed record RolloutDecision
{
    public long AtMs { get; init; }

    /// <summary><c>started</c>, <c>fraction</c>, <c>promote</c>, <c>promote_pending</c>, <c>rollback</c>, <c>superseded</c>, <c>replaced</c>, <c>promote_failed</c>, <c>dropped</c>.</summary>
    public string Action { get; init; } = string.Empty;

    /// <summary>Who decided: <c>auto</c> (the node's sequential test), <c>operator</c> (an admin call) or <c>fleet</c> (the control plane's test on the fleet's counts).</summary>
    public string By { get; init; } = "auto";

    public ulong CandidateVersion { get; init; }

    public ulong ActiveVersion { get; init; }

    public string Reason { get; init; } = string.Empty;

    public long ControlImpressions { get; init; }

    public long CandidateImpressions { get; init; }

    public double? TakeDifference { get; init; }

    public double? TakeDifferenceLow { get; init; }

    public double? TakeDifferenceHigh { get; init; }
}

/// <summary>GET /v1/rollout.</summary>
public sealed record RolloutStatus
{
    public ulong ActiveVersion { get; init; }

    public CandidateInfo? Candidate { get; init; }

    /// <summary>A promoted candidate the model store is still making durable (null: none): promoted once it takes effect.</summary>
    public ulong? PromotionPending { get; init; }

    public List<ArmStatus> Arms { get; init; } = [];

    public TestStatus? Test { get; init; }

    /// <summary>Rewards this node took whose event the in-memory index did not hold (another node's, too old, before a restart).</summary>
    public long RewardsUnjoined { get; init; }

    public List<RolloutDecision> Decisions { get; init; } = [];

    public RolloutSettings Settings { get; init; } = new();
}

/// <summary>The candidate being tried.</summary>
public sealed record CandidateInfo
{
    public ulong Version { get; init; }

    public ulong ParentVersion { get; init; }

    public double Fraction { get; init; }

    public bool Full { get; init; }

    public int Titles { get; init; }

    public long StartedAtMs { get; init; }

    public string KeyId { get; init; } = string.Empty;

    /// <summary>Who decides it: <c>node</c> (this node's test) or <c>fleet</c> (the control plane, on the fleet's counts).</summary>
    public string DecidedBy { get; init; } = "node";
}

/// <summary>One arm's online take fraction.</summary>
public sealed record ArmStatus
{
    /// <summary><c>control</c> or <c>candidate</c>.</summary>
    public string Arm { get; init; } = string.Empty;

    public ulong BundleVersion { get; init; }

    public long Impressions { get; init; }

    public long Fallbacks { get; init; }

    public long Rewards { get; init; }

    public long Takes { get; init; }

    /// <summary>Takes per impression (null before the first impression).</summary>
    public double? TakeFraction { get; init; }

    /// <summary>95% Wilson interval of the take fraction at this sample size.</summary>
    public double? TakeFractionLow { get; init; }

    public double? TakeFractionHigh { get; init; }

    public double? FallbackFraction { get; init; }
}

/// <summary>The always-valid test of candidate − control.</summary>
public sealed record TestStatus
{
    public double? TakeDifference { get; init; }

    public double? TakeDifferenceLow { get; init; }

    public double? TakeDifferenceHigh { get; init; }

    public double? FallbackDifference { get; init; }

    public double? FallbackDifferenceLow { get; init; }

    public double? FallbackDifferenceHigh { get; init; }

    /// <summary><c>collecting</c>, <c>worse</c>, <c>fallbacks</c>, <c>not_worse</c> (promotable), <c>inconclusive</c>.</summary>
    public string Verdict { get; init; } = string.Empty;

    /// <summary>Candidate-arm impressions still needed before a promotion (0 when reached).</summary>
    public long ImpressionsToPromotion { get; init; }
}

/// <summary>The rollout configuration in force.</summary>
public sealed record RolloutSettings
{
    public bool AutoDecide { get; init; }

    public double Alpha { get; init; }

    public double MixtureTau { get; init; }

    public long MinImpressionsPerArm { get; init; }

    public long PromoteAfterImpressions { get; init; }

    public double NonInferiorityMargin { get; init; }

    public double FallbackMargin { get; init; }

    public int RecentEvents { get; init; }
}

/// <summary>Body of PUT /v1/rollout/fraction.</summary>
public sealed record FractionBody
{
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
