namespace EdgeSelector.Core.Exploration;

/// <summary>ε-greedy: ε/K on every image plus (1 − ε) on the greedy choice (split over exact ties).</summary>
public static class EpsilonGreedy
{
    /// <summary>Writes the ε-greedy distribution into <paramref name="pmf"/>; ε is clamped to [0, 1].</summary>
    public static void Pmf(ReadOnlySpan<float> scores, float epsilon, Span<float> pmf)
    {
        epsilon = float.IsFinite(epsilon) ? Math.Clamp(epsilon, 0f, 1f) : 0f;
        Greedy.Pmf(scores, pmf);
        var floor = epsilon / scores.Length;
        for (var i = 0; i < scores.Length; i++)
        {
            pmf[i] = floor + ((1f - epsilon) * pmf[i]);
        }
    }
}
