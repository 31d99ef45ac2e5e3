using System.Runtime.Intrinsics;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Core.Tests;

/// <summary>
/// Thompson sampling's propensity integral and draw (the Monte Carlo checks are in PolicyTests). Named "Policy" so
/// CI runs it again with AVX-512, AVX-VNNI and all hardware intrinsics switched off.
/// </summary>
public class ThompsonPolicyTests
{
    /// <summary>Posterior shapes the integral must handle, K images each.</summary>
    public enum Regime
    {
        /// <summary>What the benchmark model gives: means spread over 0.1, σ ≈ 0.01–0.015.</summary>
        Serving,
        /// <summary>Means and σ of the same order (σ within a factor 4).</summary>
        Similar,
        /// <summary>One cold image (σ = 0.1) among sharp known ones (σ = 0.001): steep factors.</summary>
        Cold,
        /// <summary>σ spread over three orders of magnitude, down to the 1e-4 floor: the steepest factors.</summary>
        Mixed,
        /// <summary>Identical posteriors: every image matters, P = 1/K.</summary>
        Equal,
    }

    public static TheoryData<Regime, int> Cases()
    {
        var data = new TheoryData<Regime, int>();
        foreach (var regime in Enum.GetValues<Regime>())
        {
            foreach (var k in new[] { 2, 8, 13, 32, 37, 64 }) // 13 and 37: the eight-image steps end with a partial step
            {
                data.Add(regime, k);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Probability_RandomPosteriors_WithinTheErrorBoundOfADenseReference(Regime regime, int k)
    {
        var rng = new Random((int)regime * 1000 + k);
        var scratch = new float[Thompson.ScratchLength];
        var worst = 0.0;
        for (var trial = 0; trial < 40; trial++)
        {
            var (means, stds) = Posteriors(regime, k, rng);

            // Every image once in a while, and the images that Thompson sampling would actually pick most of the time.
            var chosen = trial % 2 == 0 ? rng.Next(k) : Thompson.SampleScalar(means, stds, (ulong)rng.NextInt64());
            var exact = Reference(means, stds, chosen);
            var p = Thompson.Probability(means, stds, chosen, scratch);
            worst = Math.Max(worst, Math.Abs(p - exact));
            Assert.True(Math.Abs(p - exact) <= Thompson.ErrorBound, $"{regime}, K={k}, image {chosen}: {p} vs reference {exact}");
        }

        // The bound is what the logs are promised; in practice the error is far smaller (docs/model-format.md).
        Assert.True(worst < Thompson.ErrorBound / 4, $"{regime}, K={k}: worst error {worst:E2}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Probability_VectorPath_MatchesTheScalarReference(Regime regime, int k)
    {
        var rng = new Random(7 + ((int)regime * 1000) + k);
        var scratch = new float[Thompson.ScratchLength];
        for (var trial = 0; trial < 40; trial++)
        {
            var (means, stds) = Posteriors(regime, k, rng);
            var chosen = rng.Next(k);
            var vector = Thompson.Probability(means, stds, chosen, scratch);
            var scalar = Thompson.ProbabilityScalar(means, stds, chosen, scratch);

            // Same rule; the vector path evaluates Φ in single precision (relative error ≤ 5e-6 deep in the tail).
            Assert.True(Math.Abs(vector - scalar) <= 2e-5, $"{regime}, K={k}, image {chosen}: vector {vector}, scalar {scalar}");
        }
    }

    [Fact]
    public void Probability_PmfOfManyImages_SumsToOne()
    {
        var rng = new Random(3);
        var scratch = new float[Thompson.ScratchLength];
        foreach (var regime in Enum.GetValues<Regime>())
        {
            var (means, stds) = Posteriors(regime, 32, rng);
            var pmf = new float[32];
            Thompson.Pmf(means, stds, scratch, pmf);
            Assert.Equal(1.0, pmf.Sum(p => (double)p), 1e-3);
        }
    }

    [Theory]
    [InlineData(13)]
    [InlineData(32)]
    [InlineData(37)]
    public void Probability_ScratchLeftFullOfNaN_GivesTheSameValue(int k)
    {
        // The vector set-up reads whole eight-lane steps past the images it keeps and masks the extra lanes: whatever the
        // scratch held before (here NaN everywhere) must not reach the result.
        var rng = new Random(5 + k);
        var clean = new float[Thompson.ScratchLength];
        var dirty = new float[Thompson.ScratchLength];
        foreach (var regime in Enum.GetValues<Regime>())
        {
            var (means, stds) = Posteriors(regime, k, rng);
            for (var chosen = 0; chosen < k; chosen++)
            {
                Array.Clear(clean);
                Array.Fill(dirty, float.NaN);
                var expected = Thompson.Probability(means, stds, chosen, clean);
                Assert.Equal(expected, Thompson.Probability(means, stds, chosen, dirty));
            }
        }
    }

    [Fact]
    public void Probability_OneImage_IsOne()
    {
        var scratch = new float[Thompson.ScratchLength];
        Assert.Equal(1f, Thompson.Probability([0.3f], [0.01f], 0, scratch), 5);
    }

    [Fact]
    public void Sample_VectorPath_DrawsBitForBitTheScalarChoice()
    {
        var rng = new Random(11);
        var differentChoices = new HashSet<int>();
        for (var trial = 0; trial < 20_000; trial++)
        {
            var k = 1 + rng.Next(70);
            var (means, stds) = Posteriors(Regime.Serving, k, rng);
            var key = (ulong)rng.NextInt64();
            var vector = Thompson.Sample(means, stds, key);
            Assert.Equal(Thompson.SampleScalar(means, stds, key), vector);
            differentChoices.Add(vector);
        }

        Assert.True(differentChoices.Count > 30); // the draw really varies
    }

    [Fact]
    public void Sample_NearTies_DrawsBitForBitTheScalarChoice()
    {
        // Means one float step apart and equal σ: the choice turns on the last bits of the normals.
        var rng = new Random(12);
        for (var trial = 0; trial < 5_000; trial++)
        {
            var means = new float[32];
            var stds = new float[32];
            for (var i = 0; i < 32; i++)
            {
                means[i] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(0.1f) + rng.Next(3));
                stds[i] = 1e-7f;
            }

            var key = (ulong)rng.NextInt64();
            Assert.Equal(Thompson.SampleScalar(means, stds, key), Thompson.Sample(means, stds, key));
        }
    }

    [Fact]
    public void Exp_AndPdf_Vector_MatchDoublePrecision()
    {
        var worstExp = 0.0;
        var worstPdf = 0.0;
        for (var x = -86.0; x <= 88.0; x += 0.0137)
        {
            var xf = (float)x;
            var exact = Math.Exp(xf);
            worstExp = Math.Max(worstExp, Math.Abs(Normal.Exp(Vector512.Create(xf))[3] - exact) / exact);
            worstExp = Math.Max(worstExp, Math.Abs(Normal.Exp(Vector256.Create(xf))[5] - exact) / exact);
        }

        for (var z = -9.0; z <= 9.0; z += 0.001)
        {
            var zf = (float)z;
            var exact = Math.Exp(-0.5 * zf * (double)zf) / Math.Sqrt(2 * Math.PI);
            worstPdf = Math.Max(worstPdf, Math.Abs(Normal.Pdf(Vector512.Create(zf))[0] - exact) / exact);
            worstPdf = Math.Max(worstPdf, Math.Abs(Normal.Pdf(Vector256.Create(zf))[7] - exact) / exact);
        }

        Assert.True(worstExp < 2e-7, $"Exp relative error {worstExp:E2}");
        Assert.True(worstPdf < 3e-6, $"Pdf relative error {worstPdf:E2}"); // z² rounds in single precision
    }

    [Fact]
    public void Cdf_Vector_RelativeErrorBounds()
    {
        // What the error bound in docs/model-format.md assumes of Φ in single precision, against a reference good to
        // ~1e-12 (not Normal.Cdf(double), whose fit is itself off by up to 1.2e-7), every 0.0007 over [−7, 7].
        var worstNear = 0.0;
        var worstTail = 0.0;
        for (var z = -7.0; z <= 7.0; z += 0.0007)
        {
            var zf = (float)z;
            var exact = PreciseCdf(zf);
            var error = Math.Max(Math.Abs(Normal.Cdf(Vector512.Create(zf))[1] - exact), Math.Abs(Normal.Cdf(Vector256.Create(zf))[6] - exact)) / exact;
            if (zf >= -3)
            {
                worstNear = Math.Max(worstNear, error);
            }
            else
            {
                worstTail = Math.Max(worstTail, error);
            }
        }

        Assert.True(worstNear < 2e-6, $"Φ relative error for z ≥ −3: {worstNear:E2}");
        Assert.True(worstTail < 1e-5, $"Φ relative error for z < −3: {worstTail:E2}");
    }

    [Fact]
    public void PreciseCdf_KnownValues()
    {
        // The reference above against tabulated values of Φ (17 significant digits).
        Assert.Equal(0.5, PreciseCdf(0), 15);
        Assert.True(Math.Abs((PreciseCdf(-1) / 0.15865525393145705) - 1) < 1e-13);
        Assert.True(Math.Abs((PreciseCdf(-3) / 0.0013498980316300946) - 1) < 1e-13);
        Assert.True(Math.Abs((PreciseCdf(-5) / 2.8665157187919391e-7) - 1) < 1e-13);
        Assert.True(Math.Abs((PreciseCdf(-7) / 1.2798125438858350e-12) - 1) < 1e-13);
        Assert.True(Math.Abs(PreciseCdf(2) - 0.97724986805182079) < 1e-15);
    }

    // Φ(z) = erfc(−z/√2)/2 to ~1e-12 relative or better: erf's Taylor series where erfc(|x|) is not small (|x| < 2), else
    // erfc's continued fraction, evaluated backwards from a fixed depth of 400 (ample for x ≥ 2).
    private static double PreciseCdf(double z)
    {
        var x = Math.Abs(z) / Math.Sqrt(2);
        double erfc;
        if (x < 2)
        {
            double sum = 0, term = x;
            for (var n = 0; n < 200 && Math.Abs(term) > 1e-300; n++)
            {
                sum += term / ((2 * n) + 1);
                term *= -x * x / (n + 1);
            }

            erfc = 1 - (2 / Math.Sqrt(Math.PI) * sum);
        }
        else
        {
            // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))).
            var fraction = x;
            for (var n = 400; n >= 1; n--)
            {
                fraction = x + (n / 2.0 / fraction);
            }

            erfc = Math.Exp(-x * x) / Math.Sqrt(Math.PI) / fraction;
        }

        return z <= 0 ? erfc / 2 : 1 - (erfc / 2);
    }

    internal static (float[] Means, float[] Stds) Posteriors(Regime regime, int k, Random rng)
    {
        var means = new float[k];
        var stds = new float[k];
        for (var i = 0; i < k; i++)
        {
            (means[i], stds[i]) = regime switch
            {
                Regime.Serving => ((float)((rng.NextDouble() * 0.1) + ((rng.NextDouble() - 0.5) * 0.06)), (float)Math.Sqrt(1e-4 + (rng.NextDouble() * 1.3e-4))),
                Regime.Similar => ((float)Gaussian(rng), (float)(0.5 + (rng.NextDouble() * 1.5))),
                Regime.Cold => i == k - 1 ? (0.08f, 0.1f) : ((float)(0.1 + (0.01 * Gaussian(rng))), 0.001f),
                Regime.Mixed => ((float)(0.05 * Gaussian(rng)), (float)Math.Pow(10, -4 + (3 * rng.NextDouble()))),
                _ => (0.1f, 0.01f),
            };
        }

        return (means, stds);
    }

    private static double Gaussian(Random rng) => Normal.InverseCdf(Math.Max(rng.NextDouble(), 1e-300));

    // An independent reference: adaptive Simpson in double precision on [−9, 9] with every image kept and no cut of
    // the range, refined to 1e-11 per panel, so steep factors are resolved wherever they are.
    private static double Reference(float[] means, float[] stds, int chosen)
    {
        double F(double u)
        {
            var f = Math.Exp(-0.5 * u * u) / Math.Sqrt(2 * Math.PI);
            for (var j = 0; j < means.Length && f > 0; j++)
            {
                if (j != chosen)
                {
                    f *= Normal.Cdf(((means[chosen] - (double)means[j]) + (stds[chosen] * u)) / stds[j]);
                }
            }

            return f;
        }

        double Simpson(double a, double b, double fa, double fm, double fb, double whole, int depth)
        {
            var m = (a + b) / 2;
            var lm = (a + m) / 2;
            var rm = (m + b) / 2;
            var flm = F(lm);
            var frm = F(rm);
            var left = (m - a) / 6 * (fa + (4 * flm) + fm);
            var right = (b - m) / 6 * (fm + (4 * frm) + fb);
            if (depth > 40 || Math.Abs(left + right - whole) <= 1e-11)
            {
                return left + right + ((left + right - whole) / 15);
            }

            return Simpson(a, m, fa, flm, fm, left, depth + 1) + Simpson(m, b, fm, frm, fb, right, depth + 1);
        }

        // Start from 64 panels so that no steep step can fall between the first nodes unseen.
        double sum = 0;
        const int Start = 64;
        for (var p = 0; p < Start; p++)
        {
            var a = -9 + (18.0 * p / Start);
            var b = -9 + (18.0 * (p + 1) / Start);
            double fa = F(a), fb = F(b), fm = F((a + b) / 2);
            sum += Simpson(a, b, fa, fm, fb, (b - a) / 6 * (fa + (4 * fm) + fb), 0);
        }

        return sum;
    }
}
