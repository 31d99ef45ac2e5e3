namespace EdgeSelector.Core.Exploration;

/// <summary>Uniform random: 1/K on every image, whatever the scores (data collection for replay).</summary>
public static class Uniform
{
    /// <summary>Writes 1/K into the first K entries of <paramref name="pmf"/>.</summary>
    public static void Pmf(int count, Span<float> pmf) => pmf[..count].Fill(1f / count);
}
