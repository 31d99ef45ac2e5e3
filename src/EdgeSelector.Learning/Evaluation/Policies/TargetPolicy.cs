namespace EdgeSelector.Learning.Evaluation.Policies;

/// <summary>An action with its probability under a policy.</summary>
public readonly record struct ActionProbability(int Action, double Probability);

/// <summary>The policy being evaluated: gives, for each logged row, a probability for each action at that row's position.</summary>
public abstract class TargetPolicy
{
    /// <summary>
    /// True when the policy can list its whole distribution per row (<see cref="IPolicyCursor.Distribution"/>), which
    /// the direct method and doubly robust need; false when it only knows the logged action's probability.
    /// </summary>
    public abstract bool HasFullDistribution { get; }

    /// <summary>Opens a cursor for one pass over the logged rows, in order.</summary>
    public abstract IPolicyCursor Open();
}

/// <summary>A policy positioned on one logged row at a time.</summary>
public interface IPolicyCursor : IDisposable
{
    /// <summary>Moves to <paramref name="sample"/>, the next row of the pass.</summary>
    void MoveTo(LoggedSample sample);

    /// <summary>Probability of <paramref name="action"/> on the current row.</summary>
    double Probability(int action);

    /// <summary>The actions with non-zero probability on the current row (only when the policy has the full distribution).</summary>
    ReadOnlySpan<ActionProbability> Distribution { get; }

    /// <summary>Called after the last row; throws when the policy expected more rows (per-row policies).</summary>
    void Finish();
}
