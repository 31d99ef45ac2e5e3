namespace EdgeSelector.Core.Exploration;

/// <summary>Greedy: all mass on the best score; exact ties share it evenly so the logged propensity stays true.</summary>
public static class Greedy
{
    /// <summary>Writes the greedy distribution over <paramref name="scores"/> into <paramref name="pmf"/>; returns the number of tied best.</summary>
    public static int Pmf(ReadOnlySpan<float> scores, Span<float> pmf)
    {
        var best = float.NegativeInfinity;
        foreach (var s in scores)
        {
            best = Math.Max(best, s);
        }

        var ties = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            ties += scores[i] == best ? 1 : 0;
        }

        var share = 1f / ties;
        for (var i = 0; i < scores.Length; i++)
        {
            pmf[i] = scores[i] == best ? share : 0f;
        }

        return ties;
    }
}
