using System.Runtime.Intrinsics;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Core.Exploration;

/// <summary>
/// Thompson sampling with a Gaussian posterior per image: draw s_i ~ N(μ_i, σ_i²) for every image and take the
/// best. The probability of the chosen image has no closed form; <see cref="Probability"/> computes
///   P(c) = ∫ φ(u) Π_{j≠c} Φ((μ_c − μ_j + σ_c·u) / σ_j) du
/// by composite Simpson's rule on <see cref="QuadratureIntervals"/> intervals over [u_lo, 6.5], where u_lo is the
/// point below which some factor is under Φ(−8.5) ≈ 1e-17 (the integrand is zero there) and φ(6.5) ≈ 2e-10 bounds
/// the tail. Starting the grid where the integrand starts puts every node where the mass is, which is what keeps small
/// propensities accurate (docs/model-format.md, "Thompson propensity"; PolicyTests compare against 2,000,000-draw
/// Monte Carlo, small probabilities included).
/// </summary>
public static class Thompson
{
    /// <summary>Number of Simpson intervals (even); the rule evaluates one more node than this.</summary>
    public const int QuadratureIntervals = 256;

    /// <summary>Scratch floats <see cref="Probability"/> needs.</summary>
    public const int QuadratureNodes = QuadratureIntervals + 16;

    // φ(6.5) ≈ 2.4e-10: the integrand's mass above is below the quadrature's own error.
    private const float UpperLimit = 6.5f;

    // Φ(5.5) > 1 − 2e-8: a factor above this on every node is 1 to float precision, and is skipped.
    private const float FactorIsOne = 5.5f;

    /// <summary>Standard deviations are floored here so every factor of the integrand is a proper CDF.</summary>
    public const float MinStdDev = 1e-4f;

    // Simpson weights 1, 4, 2, 4, …, 4, 1 over the QuadratureIntervals + 1 nodes, zero-padded to whole vectors, and
    // the node indices as floats.
    private static readonly float[] Weights = BuildWeights();
    private static readonly float[] Indices = BuildIndices();

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
        var muC = means[chosen];
        var sigmaC = stdDevs[chosen];

        // Below u_lo some factor Φ(a_j + b_j·u) is < Φ(−8.5): the integrand vanishes, so the grid starts there.
        var lo = -UpperLimit;
        for (var j = 0; j < means.Length; j++)
        {
            if (j != chosen)
            {
                var a = (muC - means[j]) / stdDevs[j];
                var b = sigmaC / stdDevs[j];
                lo = Math.Max(lo, (-8.5f - a) / b);
            }
        }

        if (lo >= UpperLimit)
        {
            return 0f;
        }

        var h = (UpperLimit - lo) / QuadratureIntervals;
        var product = scratch[..QuadratureNodes];
        Density(product, lo, h);
        for (var j = 0; j < means.Length; j++)
        {
            if (j == chosen)
            {
                continue;
            }

            var a = (muC - means[j]) / stdDevs[j];
            var b = sigmaC / stdDevs[j];
            if (a + (b * lo) > FactorIsOne)
            {
                continue; // Φ > 1 − 2e-8 on every node: the factor is 1 to float precision.
            }

            Multiply(product, a + (b * lo), b * h);
        }

        double sum = 0;
        for (var n = 0; n <= QuadratureIntervals; n++)
        {
            sum += Weights[n] * (double)product[n];
        }

        return (float)Math.Clamp(sum * h / 3, 0, 1);
    }

    /// <summary>Writes every image's probability into <paramref name="pmf"/> (K quadratures: for debugging and evaluation, not per request).</summary>
    public static void Pmf(ReadOnlySpan<float> means, ReadOnlySpan<float> stdDevs, Span<float> scratch, Span<float> pmf)
    {
        for (var i = 0; i < means.Length; i++)
        {
            pmf[i] = Probability(means, stdDevs, i, scratch);
        }
    }

    // product[n] = φ(lo + n·h) with the Simpson weight folded in later; padding nodes get φ of a node past the
    // range, which their zero weight discards.
    private static void Density(Span<float> product, float lo, float h)
    {
        const float InvSqrt2Pi = 0.39894228f;
        var n = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; n + 16 <= product.Length; n += 16)
            {
                var u = Vector512.FusedMultiplyAdd(Vector512.Create((ReadOnlySpan<float>)Indices.AsSpan(n)), Vector512.Create(h), Vector512.Create(lo));
                (Vector512.Exp(u * u * Vector512.Create(-0.5f)) * Vector512.Create(InvSqrt2Pi)).CopyTo(product[n..]);
            }
        }

        if (Vector256.IsHardwareAccelerated)
        {
            for (; n + 8 <= product.Length; n += 8)
            {
                var u = Vector256.FusedMultiplyAdd(Vector256.Create((ReadOnlySpan<float>)Indices.AsSpan(n)), Vector256.Create(h), Vector256.Create(lo));
                (Vector256.Exp(u * u * Vector256.Create(-0.5f)) * Vector256.Create(InvSqrt2Pi)).CopyTo(product[n..]);
            }
        }

        for (; n < product.Length; n++)
        {
            var u = lo + (n * h);
            product[n] = MathF.Exp(-0.5f * u * u) * InvSqrt2Pi;
        }
    }

    // product[n] *= Φ(z0 + n·dz) for every node.
    private static void Multiply(Span<float> product, float z0, float dz)
    {
        var n = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var w0 = Vector512.Create(z0);
            var wd = Vector512.Create(dz);
            for (; n + 16 <= product.Length; n += 16)
            {
                var z = Vector512.FusedMultiplyAdd(Vector512.Create((ReadOnlySpan<float>)Indices.AsSpan(n)), wd, w0);
                (Vector512.Create((ReadOnlySpan<float>)product[n..]) * Normal.Cdf(z)).CopyTo(product[n..]);
            }
        }

        if (Vector256.IsHardwareAccelerated)
        {
            var v0 = Vector256.Create(z0);
            var vd = Vector256.Create(dz);
            for (; n + 8 <= product.Length; n += 8)
            {
                var z = Vector256.FusedMultiplyAdd(Vector256.Create((ReadOnlySpan<float>)Indices.AsSpan(n)), vd, v0);
                (Vector256.Create((ReadOnlySpan<float>)product[n..]) * Normal.Cdf(z)).CopyTo(product[n..]);
            }
        }

        for (; n < product.Length; n++)
        {
            product[n] *= (float)Normal.Cdf(z0 + (n * dz));
        }
    }

    private static float[] BuildWeights()
    {
        var weights = new float[QuadratureNodes];
        for (var n = 0; n <= QuadratureIntervals; n++)
        {
            weights[n] = n == 0 || n == QuadratureIntervals ? 1f : (n % 2 == 1 ? 4f : 2f);
        }

        return weights;
    }

    private static float[] BuildIndices()
    {
        var indices = new float[QuadratureNodes];
        for (var n = 0; n < indices.Length; n++)
        {
            indices[n] = n;
        }

        return indices;
    }
}
