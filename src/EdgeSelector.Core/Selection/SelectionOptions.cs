using EdgeSelector.Core.Exploration;

namespace EdgeSelector.Core.Selection;

/// <summary>How the engine explores: the policy, its parameter, the stickiness window and the seed.</summary>
public sealed record SelectionOptions
{
    /// <summary>The exploration policy.</summary>
    public PolicyKind Policy { get; init; } = PolicyKind.EpsilonGreedy;

    /// <summary>ε of ε-greedy (probability of a uniformly random image).</summary>
    public float Epsilon { get; init; } = 0.1f;

    /// <summary>Softmax temperature, in score units.</summary>
    public float Temperature { get; init; } = 0.05f;

    /// <summary>UCB's α: how many posterior standard deviations of optimism.</summary>
    public float UcbAlpha { get; init; } = 1f;

    /// <summary>Seed of the sticky randomisation: engines with the same seed decide identically.</summary>
    public ulong Seed { get; init; } = 0x0EDC_5E1E_C7A5_7000;

    /// <summary>How long a member keeps the same draw for a title (default 24 h).</summary>
    public TimeSpan StickinessWindow { get; init; } = TimeSpan.FromHours(24);

    /// <summary>The policy's parameter as the impression log records it (ε, T or α; 0 for the others).</summary>
    public float PolicyParameter => Policy switch
    {
        PolicyKind.EpsilonGreedy => Epsilon,
        PolicyKind.Softmax => Temperature,
        PolicyKind.Ucb => UcbAlpha,
        _ => 0f,
    };

    /// <summary>Throws <see cref="ArgumentException"/> on a parameter outside its range (checked at start-up, not per request).</summary>
    public SelectionOptions Validate()
    {
        if (!Enum.IsDefined(Policy))
        {
            throw new ArgumentException($"unknown policy {Policy}");
        }

        if (!(Epsilon is >= 0f and <= 1f))
        {
            throw new ArgumentException($"epsilon {Epsilon} must be in [0, 1]");
        }

        if (!(Temperature >= Softmax.MinTemperature) || !float.IsFinite(Temperature))
        {
            throw new ArgumentException($"temperature {Temperature} must be finite and at least {Softmax.MinTemperature}");
        }

        if (!(UcbAlpha >= 0f) || !float.IsFinite(UcbAlpha))
        {
            throw new ArgumentException($"UCB alpha {UcbAlpha} must be finite and non-negative");
        }

        if (StickinessWindow <= TimeSpan.Zero)
        {
            throw new ArgumentException("the stickiness window must be positive");
        }

        return this;
    }
}
