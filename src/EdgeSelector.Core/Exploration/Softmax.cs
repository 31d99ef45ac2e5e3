using System.Runtime.Intrinsics;

namespace EdgeSelector.Core.Exploration;

/// <summary>Softmax (Boltzmann) exploration: p_i ∝ exp((s_i − max s) / T).</summary>
public static class Softmax
{
    /// <summary>The smallest temperature used; below it softmax is greedy in all but floating-point noise.</summary>
    public const float MinTemperature = 1e-6f;

    /// <summary>Writes the softmax distribution into <paramref name="pmf"/> (computed in place, vectorised when possible).</summary>
    public static void Pmf(ReadOnlySpan<float> scores, float temperature, Span<float> pmf)
    {
        if (!(temperature >= MinTemperature) || !float.IsFinite(temperature))
        {
            temperature = MinTemperature;
        }

        var k = scores.Length;
        var max = float.NegativeInfinity;
        foreach (var s in scores)
        {
            max = Math.Max(max, s);
        }

        var inv = 1f / temperature;
        var i = 0;
        var sum = 0f;
        if (Vector256.IsHardwareAccelerated)
        {
            var vmax = Vector256.Create(max);
            var vinv = Vector256.Create(inv);
            var vsum = Vector256<float>.Zero;
            for (; i + 8 <= k; i += 8)
            {
                var e = Vector256.Exp((Vector256.Create(scores[i..]) - vmax) * vinv);
                e.CopyTo(pmf[i..]);
                vsum += e;
            }

            sum = Vector256.Sum(vsum);
        }

        for (; i < k; i++)
        {
            pmf[i] = MathF.Exp((scores[i] - max) * inv);
            sum += pmf[i];
        }

        var norm = 1f / sum;
        for (i = 0; i < k; i++)
        {
            pmf[i] *= norm;
        }
    }
}
