namespace EdgeSelector.Core.Rollout;

/// <summary>An estimate with its interval.</summary>
/// <param name="Estimate">The point estimate.</param>
/// <param name="Low">Lower bound.</param>
/// <param name="High">Upper bound.</param>
public readonly record struct Interval(double Estimate, double Low, double High);

/// <summary>
/// Intervals for take fractions and their differences. <see cref="Difference"/> is an always-valid confidence
/// sequence: it may be looked at after every impression, and the chance that it ever excludes the true difference is
/// at most α (asymptotically: the normal approximation of the difference of two proportions). It is the normal
/// mixture boundary of the mixture sequential probability ratio test (Robbins 1970; Johari, Pekelis and Walsh,
/// "Always valid inference", 2017): with the estimate θ̂ of variance V and a N(0, τ²) mixture over the effect,
/// the likelihood ratio Λ = √(V/(V+τ²))·exp(τ²(θ̂−θ)²/(2V(V+τ²))) stays below 1/α for ever with probability
/// 1 − α, which is the interval θ̂ ± √(V(V+τ²)/τ² · (2 ln(1/α) + ln((V+τ²)/V))). docs/rollout.md, "The test".
/// </summary>
public static class ConfidenceSequence
{
    /// <summary>
    /// Radius of the normal-mixture boundary for an estimate of variance <paramref name="variance"/>, mixture
    /// standard deviation <paramref name="tau"/> and error rate <paramref name="alpha"/> (over all looks).
    /// </summary>
    public static double Radius(double variance, double tau, double alpha)
    {
        if (!(variance > 0))
        {
            return 0;
        }

        var tau2 = tau * tau;
        var ratio = (variance + tau2) / variance;
        return Math.Sqrt(variance * (variance + tau2) / tau2 * ((2 * Math.Log(1 / alpha)) + Math.Log(ratio)));
    }

    /// <summary>
    /// The always-valid confidence sequence of p₁ − p₀ from k₁ successes in n₁ trials against k₀ in n₀. The variance
    /// uses proportions smoothed by half a success ((k + ½)/(n + 1)), so an arm without a single take does not claim
    /// zero variance. Undefined (NaN bounds) while an arm has no trial.
    /// </summary>
    public static Interval Difference(long k1, long n1, long k0, long n0, double tau, double alpha)
    {
        if (n1 <= 0 || n0 <= 0)
        {
            return new Interval(double.NaN, double.NaN, double.NaN);
        }

        var estimate = ((double)k1 / n1) - ((double)k0 / n0);
        var variance = SmoothedVariance(k1, n1) + SmoothedVariance(k0, n0);
        var radius = Radius(variance, tau, alpha);
        return new Interval(estimate, estimate - radius, estimate + radius);
    }

    /// <summary>The 95% Wilson score interval of one proportion at a fixed sample size (for display, not for decisions).</summary>
    public static Interval Wilson(long k, long n, double z = 1.959963984540054)
    {
        if (n <= 0)
        {
            return new Interval(double.NaN, double.NaN, double.NaN);
        }

        var p = (double)k / n;
        var z2 = z * z;
        var centre = (p + (z2 / (2 * n))) / (1 + (z2 / n));
        var half = z * Math.Sqrt((p * (1 - p) / n) + (z2 / (4.0 * n * n))) / (1 + (z2 / n));
        return new Interval(p, Math.Max(0, centre - half), Math.Min(1, centre + half));
    }

    private static double SmoothedVariance(long k, long n)
    {
        var p = (k + 0.5) / (n + 1.0);
        return p * (1 - p) / n;
    }
}
