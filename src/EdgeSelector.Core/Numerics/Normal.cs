using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeSelector.Core.Numerics;

/// <summary>The standard normal distribution: CDF and density (scalar and vectorised) and the inverse CDF.</summary>
public static class Normal
{
    // Numerical Recipes' erfcc: erfc(x) ≈ t·exp(−x² + E0 + t(E1 + t(E2 + … + t·E9))), t = 1/(1 + x/2); one set of
    // coefficients for the scalar and both vector forms.
    private const double E0 = -1.26551223;
    private const double E1 = 1.00002368;
    private const double E2 = 0.37409196;
    private const double E3 = 0.09678418;
    private const double E4 = -0.18628806;
    private const double E5 = 0.27886807;
    private const double E6 = -1.13520398;
    private const double E7 = 1.48851587;
    private const double E8 = -0.82215223;
    private const double E9 = 0.17087277;

    // The vector forms' fit: the same shape, erfc(x) ≈ t·exp(−x² + F0 + t(F1 + … + t·F7)), with the polynomial refitted
    // (a Remez exchange on ln(erfc(x)/t) + x²) over the range the integral uses, x ≤ 5.3 (|z| ≤ 7.5): error 3.5e-7
    // there with two terms fewer; beyond it the fit drifts slowly (1e-5 at x = 7, i.e. Φ(−9.9) < 1e-22).
    private const double F0 = -1.2663794475219776;
    private const double F1 = 1.0106066154899687;
    private const double F2 = 0.3280436425082117;
    private const double F3 = 0.15358606940127587;
    private const double F4 = 0.021770575708293122;
    private const double F5 = -0.6776062484211836;
    private const double F6 = 0.5796557124301234;
    private const double F7 = -0.149677269261382;

    private const double InvSqrt2 = 0.70710678118654752440;
    private const double InvSqrt2Pi = 0.39894228040143267794;
    private const double Ln2 = 0.69314718055994530942;

    // e^x = 2^n · e^r with n = round(x·log₂e) and r = x − n·ln 2, ln 2 split in two (Cephes' expf) so r is exact.
    private const float Log2E = 1.44269504f;
    private const float Ln2High = 0.693359375f;
    private const float Ln2Low = -2.12194440e-4f;

    // Φ's e^x (ExpOfCdf): the minimax polynomial of degree 5 for e^r on |r| ≤ ln 2 / 2 (relative error 7.5e-8, 1.9e-7
    // with these single-precision coefficients and rounding), found by a Remez exchange on the relative error.
    private const float P0 = 1.0000000716507331f;
    private const float P1 = 0.9999996919698628f;
    private const float P2 = 0.49998894857036486f;
    private const float P3 = 0.1666757477536039f;
    private const float P4 = 0.04191538207645936f;
    private const float P5 = 0.008297652985013173f;

    // 1.5·2²³: adding it rounds a float below 2²² in magnitude to an integer n, left in the low mantissa bits, and
    // those bits shifted by 23 are n·2²³ exactly (the magic's own bits shift out), i.e. 2ⁿ added to an exponent.
    private const float RoundMagic = 12582912f;

    /// <summary>Φ(z), the standard normal CDF; absolute error below 1e-7 (Numerical Recipes' erfcc, fractional error 1.2e-7).</summary>
    public static double Cdf(double z) => 0.5 * Erfc(-z * InvSqrt2);

    /// <summary>erfc(x) by the Chebyshev fit of Numerical Recipes (erfcc), fractional error below 1.2e-7 everywhere.</summary>
    public static double Erfc(double x)
    {
        var z = Math.Abs(x);
        var t = 1.0 / (1.0 + (0.5 * z));
        var poly = E9;
        poly = (poly * t) + E8;
        poly = (poly * t) + E7;
        poly = (poly * t) + E6;
        poly = (poly * t) + E5;
        poly = (poly * t) + E4;
        poly = (poly * t) + E3;
        poly = (poly * t) + E2;
        poly = (poly * t) + E1;
        poly = (poly * t) + E0;
        var ans = t * Math.Exp(poly - (z * z));
        return x >= 0 ? ans : 2.0 - ans;
    }

    /// <summary>Φ(z) for eight lanes at once (the form of <see cref="Cdf(double)"/>'s fit, refitted for |z| ≤ 7.5, in single precision).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Cdf(Vector256<float> z)
    {
        // erfc(x) with x = −z/√2; Φ = erfc(x)/2, which is h = t·exp(poly − ln 2 − x²) for z ≤ 0 and 1 − h above. The
        // exponent is never above −ln 2 + 3.5e-7 (the fit's error), so only its lower end is clamped.
        var ax = Vector256.Abs(z) * Vector256.Create((float)InvSqrt2);
        var t = Vector256<float>.One / Vector256.FusedMultiplyAdd(ax, Vector256.Create(0.5f), Vector256<float>.One);
        var poly = Vector256.Create((float)F7);
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create((float)F6));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create((float)F5));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create((float)F4));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create((float)F3));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create((float)F2));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create((float)F1));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create((float)(F0 - Ln2)));
        var h = t * ExpOfCdf(Vector256.FusedMultiplyAdd(-ax, ax, poly));
        return Vector256.ConditionalSelect(Vector256.LessThanOrEqual(z, Vector256<float>.Zero), h, Vector256<float>.One - h);
    }

    /// <summary>Φ(z) for sixteen lanes at once (the form of <see cref="Cdf(double)"/>'s fit, refitted for |z| ≤ 7.5, in single precision).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Cdf(Vector512<float> z)
    {
        // erfc(x) with x = −z/√2; Φ = erfc(x)/2, which is h = t·exp(poly − ln 2 − x²) for z ≤ 0 and 1 − h above. The
        // exponent is never above −ln 2 + 3.5e-7 (the fit's error), so only its lower end is clamped.
        var ax = Vector512.Abs(z) * Vector512.Create((float)InvSqrt2);
        var t = Vector512<float>.One / Vector512.FusedMultiplyAdd(ax, Vector512.Create(0.5f), Vector512<float>.One);
        var poly = Vector512.Create((float)F7);
        poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create((float)F6));
        poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create((float)F5));
        poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create((float)F4));
        poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create((float)F3));
        poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create((float)F2));
        poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create((float)F1));
        poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create((float)(F0 - Ln2)));
        var h = t * ExpOfCdf(Vector512.FusedMultiplyAdd(-ax, ax, poly));
        return Vector512.ConditionalSelect(Vector512.LessThanOrEqual(z, Vector512<float>.Zero), h, Vector512<float>.One - h);
    }

    /// <summary>φ(z), the standard normal density, for sixteen lanes at once (relative error below 3e-7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Pdf(Vector512<float> z) => Exp(z * z * Vector512.Create(-0.5f)) * Vector512.Create((float)InvSqrt2Pi);

    /// <summary>φ(z), the standard normal density, for eight lanes at once (relative error below 3e-7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Pdf(Vector256<float> z) => Exp(z * z * Vector256.Create(-0.5f)) * Vector256.Create((float)InvSqrt2Pi);

    /// <summary>
    /// e^x in single precision for x in [−86, 88] (clamped there), relative error below 2e-7: e^r on |r| ≤ ln 2 / 2 by
    /// its degree-7 Taylor polynomial (truncation 5e-9), 2^n added to the exponent bits. About a third of the
    /// instructions of <see cref="Vector512.Exp(Vector512{float})"/>, which widens to double; NormalTests hold it to
    /// <see cref="Math.Exp"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x) => ExpNonPositive(Vector512.Min(x, Vector512.Create(88f)));

    /// <summary>e^x for eight lanes at once; see <see cref="Exp(Vector512{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x) => ExpNonPositive(Vector256.Min(x, Vector256.Create(88f)));

    // e^x for x ≤ 88, clamped below at −86 (Φ's exponent is never above 0, so it needs no upper clamp; Exp adds it).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpNonPositive(Vector512<float> x)
    {
        x = Vector512.Max(x, Vector512.Create(-86f));
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2High), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Low), r);
        var p = Vector512.Create(1f / 5040);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 720));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        return (p.AsInt32() + (Vector512.ConvertToInt32Native(n) << 23)).AsSingle();
    }

    // e^x for Φ, whose exponent x = poly − z²/2 lies in [−86, 0] once clamped: 10 instructions against ExpNonPositive's
    // 15. The degree-5 minimax polynomial (1.9e-7 relative) instead of degree-7 Taylor; n by the round-to-nearest of
    // adding RoundMagic, not a round and a conversion; r = x − n·ln 2 in one step, off by n·1.9e-9 ≤ 1.7e-8 relative
    // wherever Φ ≥ Φ(−3) (|x| ≤ 6.5, n ≤ 9), 2.4e-7 at the clamp. Cdf_Vector_RelativeErrorBounds holds the result.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpOfCdf(Vector512<float> x)
    {
        x = Vector512.Max(x, Vector512.Create(-86f));
        var shifted = Vector512.FusedMultiplyAdd(x, Vector512.Create(Log2E), Vector512.Create(RoundMagic));
        var r = Vector512.FusedMultiplyAdd(shifted - Vector512.Create(RoundMagic), Vector512.Create(-(float)Ln2), x);
        var p = Vector512.Create(P5);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P0));
        return (p.AsInt32() + (shifted.AsInt32() << 23)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpOfCdf(Vector256<float> x)
    {
        x = Vector256.Max(x, Vector256.Create(-86f));
        var shifted = Vector256.FusedMultiplyAdd(x, Vector256.Create(Log2E), Vector256.Create(RoundMagic));
        var r = Vector256.FusedMultiplyAdd(shifted - Vector256.Create(RoundMagic), Vector256.Create(-(float)Ln2), x);
        var p = Vector256.Create(P5);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P0));
        return (p.AsInt32() + (shifted.AsInt32() << 23)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpNonPositive(Vector256<float> x)
    {
        x = Vector256.Max(x, Vector256.Create(-86f));
        var n = Vector256.Round(x * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2High), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Low), r);
        var p = Vector256.Create(1f / 5040);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 720));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 120));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 24));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        return (p.AsInt32() + (Vector256.ConvertToInt32Native(n) << 23)).AsSingle();
    }

    /// <summary>Φ⁻¹(p) for p in (0, 1) by Acklam's rational approximation (relative error below 1.2e-9).</summary>
    public static double InverseCdf(double p)
    {
        const double Low = 0.02425;
        const double High = 1 - Low;
        if (p <= 0)
        {
            return double.NegativeInfinity;
        }

        if (p >= 1)
        {
            return double.PositiveInfinity;
        }

        double q, r;
        if (p < Low)
        {
            q = Math.Sqrt(-2 * Math.Log(p));
            return (((((((((-7.784894002430293e-03 * q) - 3.223964580411365e-01) * q) - 2.400758277161838e+00) * q) - 2.549732539343734e+00) * q) + 4.374664141464968e+00) * q + 2.938163982698783e+00)
                / ((((((7.784695709041462e-03 * q) + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q) + 3.754408661907416e+00) * q + 1);
        }

        if (p > High)
        {
            q = Math.Sqrt(-2 * Math.Log(1 - p));
            return -(((((((((-7.784894002430293e-03 * q) - 3.223964580411365e-01) * q) - 2.400758277161838e+00) * q) - 2.549732539343734e+00) * q) + 4.374664141464968e+00) * q + 2.938163982698783e+00)
                / ((((((7.784695709041462e-03 * q) + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q) + 3.754408661907416e+00) * q + 1);
        }

        q = p - 0.5;
        r = q * q;
        return (((((((((-3.969683028665376e+01 * r) + 2.209460984245205e+02) * r) - 2.759285104469687e+02) * r) + 1.383577518672690e+02) * r) - 3.066479806614716e+01) * r + 2.506628277459239e+00) * q
            / (((((((((-5.447609879822406e+01 * r) + 1.615858368580409e+02) * r) - 1.556989798598866e+02) * r) + 6.680131188771972e+01) * r) - 1.328068155288572e+01) * r + 1);
    }
}
