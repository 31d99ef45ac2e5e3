namespace EdgeSelector.Core.Exploration;

/// <summary>
/// Optimistic UCB: the image with the largest mean + α·σ, where σ is the posterior standard deviation of its score.
/// Deterministic: the chosen image has propensity 1 (split over exact ties), so its logs support only replay of
/// policies that agree with it; docs/model-format.md says when to prefer Thompson sampling.
/// </summary>
public static class Ucb
{
    /// <summary>Writes the UCB distribution; <paramref name="bounds"/> is scratch of length K.</summary>
    public static void Pmf(ReadOnlySpan<float> means, ReadOnlySpan<float> stdDevs, float alpha, Span<float> bounds, Span<float> pmf)
    {
        alpha = float.IsFinite(alpha) ? Math.Max(alpha, 0f) : 0f;
        for (var i = 0; i < means.Length; i++)
        {
            bounds[i] = means[i] + (alpha * stdDevs[i]);
        }

        Greedy.Pmf(bounds[..means.Length], pmf);
    }
}
