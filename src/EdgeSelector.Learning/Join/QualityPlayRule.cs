using System.Globalization;
using EdgeSelector.Core.Logging;

namespace EdgeSelector.Learning.Join;

/// <summary>
/// What counts as a take, the one definition used everywhere (docs/learning.md, "Labels"): a play that started and
/// lasted at least <see cref="MinMinutes"/> minutes or <see cref="MinFraction"/> of the title. A play that stops
/// sooner is not a take, so artwork that starts many short plays (click-bait) is not rewarded for them. The trainer
/// labels with it (<see cref="RewardJoiner"/>), <c>edgesel evaluate --reward quality</c> scores with it
/// (<c>ImpressionLogSource</c>), and the simulators write plays that it classifies as they meant them; every report
/// prints <see cref="Describe"/>.
/// </summary>
public sealed record QualityPlayRule
{
    /// <summary>Default minutes that make a play a quality play.</summary>
    public const float DefaultMinMinutes = 10f;

    /// <summary>Default fraction of the title that makes a play a quality play.</summary>
    public const float DefaultMinFraction = 0.25f;

    /// <summary>The default rule: 10 minutes or a quarter of the title.</summary>
    public static QualityPlayRule Default { get; } = new();

    /// <summary>Minutes watched that make a play a quality play (default 10).</summary>
    public float MinMinutes { get; init; } = DefaultMinMinutes;

    /// <summary>Fraction of the title completed that makes a play a quality play (default 0.25).</summary>
    public float MinFraction { get; init; } = DefaultMinFraction;

    /// <summary>True when the reward is a quality play under this rule.</summary>
    public bool IsQuality(in RewardRecord reward) =>
        reward.PlayStarted && (reward.MinutesWatched >= MinMinutes || reward.FractionCompleted >= MinFraction);

    /// <summary>Throws <see cref="ArgumentException"/> when a threshold is negative or not finite.</summary>
    public QualityPlayRule Validate()
    {
        if (!(MinMinutes >= 0) || !float.IsFinite(MinMinutes) || !(MinFraction >= 0) || !float.IsFinite(MinFraction))
        {
            throw new ArgumentException($"quality play thresholds must be finite and non-negative (minutes {MinMinutes}, fraction {MinFraction})");
        }

        return this;
    }

    /// <summary>The rule in words, as every report prints it: "quality play = started and ≥ 10 min or ≥ 25% of the title".</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"quality play = started and >= {MinMinutes:0.##} min or >= {MinFraction * 100:0.##}% of the title");
}
