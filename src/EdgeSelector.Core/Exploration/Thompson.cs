using System.Runtime.Intrinsics;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Core.Exploration;

/// <summary>
/// Thompson sampling with a Gaussian posterior per image: draw s_i ~ N(μ_i, σ_i²) for every image and take the
/// best. The probability of the chosen image has no closed form; <see cref="Probability"/> computes
///   P(c) = ∫ φ(u) Π_{j≠c} Φ((μ_c − μ_j + σ_c·u) / σ_j) du
/// by the midpoint rule on <see cref="QuadratureNodes"/> equal-probability cells of u (nodes u_n = Φ⁻¹((n + ½)/N)).
/// The integrand is monotone in the cell index, so the absolute error is at most 1/N (0.0039) in the worst case of
/// step-like factors and far smaller for smooth ones (docs/model-format.md, "Thompson propensity", and
/// ThompsonTests, which measure it against 2,000,000-draw Monte Carlo).
/// </summary>
public static class Thompson
{
    /// <summary>Number of quadrature cells N.</summary>
    public const int QuadratureNodes = 256;

    /// <summary>Standard deviations are floored here so every factor of the integrand is a proper CDF.</summary>
    public const float MinStdDev = 1e-4f;

    private static readonly float[] Nodes = BuildNodes();

    /// <summary>
    /// Draws the Thompson choice from the counter-based stream <paramref name="key"/>: image i's standard normal is
    /// Φ⁻¹ of the i-th uniform of the stream, so the same key always gives the same choice.
    /// </summary>
    public static int Sample(ReadOnlySpan<float> means, ReadOnlySpan<float> stdDevs, ulong key)
    {
        var best = 0;
        var bestValue = double.NegativeInfinity;
        for (var i = 0; i < means.Length; i++)
        {
            var u = Hash64.ToUnit(Hash64.Stream(key, (ulong)i));
            var z = Normal.InverseCdf(Math.Max(u, 1e-300));
            var v = means[i] + (stdDevs[i] * z);
            if (v > bestValue)
            {
                best = i;
                bestValue = v;
            }
        }

        return best;
    }

    /// <summary>P(image <paramref name="chosen"/> has the largest draw); <paramref name="scratch"/> needs <see cref="QuadratureNodes"/> floats.</summary>
    public static float Probability(ReadOnlySpan<float> means, ReadOnlySpan<float> stdDevs, int chosen, Span<float> scratch)
    {
        var product = scratch[..QuadratureNodes];
        product.Fill(1f);
        var nodes = Nodes.AsSpan();
        var reach = nodes[^1];
        var muC = means[chosen];
        var sigmaC = stdDevs[chosen];
        for (var j = 0; j < means.Length; j++)
        {
            if (j == chosen)
            {
                continue;
            }

            var a = (muC - means[j]) / stdDevs[j];
            var b = sigmaC / stdDevs[j];
            if (a - (b * reach) > 8f)
            {
                continue; // Φ > 1 − 1e-15 on every node: the factor is 1.
            }

            Multiply(product, nodes, a, b);
        }

        double sum = 0;
        foreach (var p in product)
        {
            sum += p;
        }

        return (float)(sum / QuadratureNodes);
    }

    /// <summary>Writes every image's probability into <paramref name="pmf"/> (K quadratures: for debugging and evaluation, not per request).</summary>
    public static void Pmf(ReadOnlySpan<float> means, ReadOnlySpan<float> stdDevs, Span<float> scratch, Span<float> pmf)
    {
        for (var i = 0; i < means.Length; i++)
        {
            pmf[i] = Probability(means, stdDevs, i, scratch);
        }
    }

    private static void Multiply(Span<float> product, ReadOnlySpan<float> nodes, float a, float b)
    {
        var n = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            var vb = Vector256.Create(b);
            for (; n + 8 <= product.Length; n += 8)
            {
                var z = Vector256.FusedMultiplyAdd(Vector256.Create(nodes[n..]), vb, va);
                (Vector256.Create((ReadOnlySpan<float>)product[n..]) * Normal.Cdf(z)).CopyTo(product[n..]);
            }
        }

        for (; n < product.Length; n++)
        {
            product[n] *= (float)Normal.Cdf(a + (b * nodes[n]));
        }
    }

    private static float[] BuildNodes()
    {
        var nodes = new float[QuadratureNodes];
        for (var n = 0; n < nodes.Length; n++)
        {
            nodes[n] = (float)Normal.InverseCdf((n + 0.5) / QuadratureNodes);
        }

        return nodes;
    }
}
