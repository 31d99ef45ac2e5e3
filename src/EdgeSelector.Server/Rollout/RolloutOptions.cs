using EdgeSelector.Core.Rollout;

namespace EdgeSelector.Server.Rollout;

/// <summary>
/// The configuration section <c>EdgeSelector:Rollout</c>: how a candidate bundle is tried against the active one and
/// when the node promotes or rolls it back on its own (docs/rollout.md, "Configuration").
/// </summary>
public sealed class RolloutOptions
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "EdgeSelector:Rollout";

    /// <summary>Share of members sent to a candidate pushed without a <c>fraction</c>.</summary>
    public double DefaultFraction { get; set; } = 0.05;

    /// <summary>Error rate of the always-valid test over all looks (a false rollback or a false "not worse").</summary>
    public double Alpha { get; set; } = 0.05;

    /// <summary>Standard deviation of the normal mixture over the take difference: the effect size the test is tuned to detect fastest.</summary>
    public double MixtureTau { get; set; } = 0.02;

    /// <summary>Neither arm is judged before it has this many impressions (the normal approximation needs them).</summary>
    public long MinImpressionsPerArm { get; set; } = 500;

    /// <summary>The configured evidence: candidate-arm impressions before a candidate that is not worse is promoted.</summary>
    public long PromoteAfterImpressions { get; set; } = 20_000;

    /// <summary>"Not worse": the lower bound of (candidate − control) take fraction is above −margin.</summary>
    public double NonInferiorityMargin { get; set; } = 0.005;

    /// <summary>Rolled back when the lower bound of (candidate − control) fallback fraction exceeds this.</summary>
    public double FallbackMargin { get; set; } = 0.01;

    /// <summary>Decide on its own (promote and roll back); false = only report, an operator decides.</summary>
    public bool AutoDecide { get; set; } = true;

    /// <summary>Milliseconds between evaluations of the test (off the request path).</summary>
    public double EvaluateIntervalMs { get; set; } = 500;

    /// <summary>Capacity of the index of recent events (event id → arm, time) that joins rewards in memory; a power of two.</summary>
    public int RecentEvents { get; set; } = 1 << 20;

    /// <summary>A reward is a take when the play started and lasted at least this many minutes (or <see cref="TakeMinFraction"/>).</summary>
    public double TakeMinMinutes { get; set; } = 10;

    /// <summary>… or at least this fraction of the title (the trainer's quality-play rule, docs/learning.md).</summary>
    public double TakeMinFraction { get; set; } = 0.25;

    /// <summary>The sequential test's settings (the test is Core's, shared with the control plane: <see cref="RolloutTest"/>).</summary>
    public RolloutTestOptions Test() => new()
    {
        Alpha = Alpha,
        MixtureTau = MixtureTau,
        MinImpressionsPerArm = MinImpressionsPerArm,
        PromoteAfterImpressions = PromoteAfterImpressions,
        NonInferiorityMargin = NonInferiorityMargin,
        FallbackMargin = FallbackMargin,
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad key.</summary>
    public RolloutOptions Validate()
    {
        Check(double.IsFinite(DefaultFraction) && DefaultFraction is >= 0 and <= 1, nameof(DefaultFraction), "must be in [0, 1]");
        Check(Alpha is > 0 and < 1, nameof(Alpha), "must be in (0, 1)");
        Check(MixtureTau > 0 && double.IsFinite(MixtureTau), nameof(MixtureTau), "must be positive");
        Check(MinImpressionsPerArm >= 1, nameof(MinImpressionsPerArm), "must be at least 1");
        Check(PromoteAfterImpressions >= 1, nameof(PromoteAfterImpressions), "must be at least 1");
        Check(NonInferiorityMargin >= 0 && double.IsFinite(NonInferiorityMargin), nameof(NonInferiorityMargin), "must not be negative");
        Check(FallbackMargin >= 0 && double.IsFinite(FallbackMargin), nameof(FallbackMargin), "must not be negative");
        Check(EvaluateIntervalMs > 0, nameof(EvaluateIntervalMs), "must be positive");
        Check(RecentEvents >= 1024 && (RecentEvents & (RecentEvents - 1)) == 0, nameof(RecentEvents), "must be a power of two, at least 1024");
        Check(TakeMinMinutes >= 0 && TakeMinFraction >= 0, nameof(TakeMinMinutes), "and TakeMinFraction must not be negative");
        return this;
    }

    private static void Check(bool ok, string key, string message)
    {
        if (!ok)
        {
            throw new ArgumentException($"{Section}:{key} {message}");
        }
    }
}
