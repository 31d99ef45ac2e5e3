namespace EdgeSelector.Core.Exploration;

/// <summary>Draws an index from a probability mass function with a caller-supplied uniform number.</summary>
public static class Sampling
{
    /// <summary>
    /// Inverse-CDF sampling in index order: the index whose cumulative interval holds <paramref name="u"/> in [0, 1).
    /// Index order (not sorted by probability) keeps a member's choice unchanged when a new model leaves the
    /// distribution unchanged; rounding leftovers fall to the last index with non-zero mass.
    /// </summary>
    public static int SampleIndex(ReadOnlySpan<float> pmf, double u)
    {
        double cumulative = 0;
        var last = 0;
        for (var i = 0; i < pmf.Length; i++)
        {
            if (pmf[i] <= 0)
            {
                continue;
            }

            last = i;
            cumulative += pmf[i];
            if (u < cumulative)
            {
                return i;
            }
        }

        return last;
    }
}
