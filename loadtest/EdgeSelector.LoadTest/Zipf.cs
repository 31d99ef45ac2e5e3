namespace EdgeSelector.LoadTest;

/// <summary>
/// Draws ids from <c>first .. first + count - 1</c>: Zipf-distributed by rank (id <c>first</c> is the most popular)
/// when the exponent is positive, uniform when it is 0. Rejection-inversion sampling (Hörmann and Derflinger 1996,
/// as in Apache Commons RNG): O(1) memory and time, so a range of 100M members costs nothing to set up.
/// </summary>
public sealed class Zipf
{
    private readonly long _first;
    private readonly long _count;
    private readonly double _exponent;
    private readonly double _hIntegralX1;
    private readonly double _hIntegralN;
    private readonly double _s;

    /// <summary>Creates a sampler over <paramref name="count"/> ids starting at <paramref name="first"/>.</summary>
    public Zipf(long first, long count, double exponent)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(exponent);
        _first = first;
        _count = count;
        _exponent = exponent;
        if (exponent > 0)
        {
            _hIntegralX1 = HIntegral(1.5) - 1.0;
            _hIntegralN = HIntegral(count + 0.5);
            _s = 2.0 - HIntegralInverse(HIntegral(2.5) - H(2.0));
        }
    }

    /// <summary>The exponent (0 = uniform).</summary>
    public double Exponent => _exponent;

    /// <summary>Draws one id.</summary>
    public long Next(ref FastRandom random)
    {
        if (_exponent == 0)
        {
            return _first + (long)(random.NextDouble() * _count);
        }

        while (true)
        {
            double u = _hIntegralN + (random.NextDouble() * (_hIntegralX1 - _hIntegralN));
            double x = HIntegralInverse(u);
            long k = (long)(x + 0.5);
            k = Math.Clamp(k, 1, _count);
            if (k - x <= _s || u >= HIntegral(k + 0.5) - H(k))
            {
                return _first + k - 1;
            }
        }
    }

    private double H(double x) => Math.Exp(-_exponent * Math.Log(x));

    private double HIntegral(double x)
    {
        double logX = Math.Log(x);
        return Helper2((1.0 - _exponent) * logX) * logX;
    }

    private double HIntegralInverse(double x)
    {
        double t = x * (1.0 - _exponent);
        if (t < -1.0)
        {
            t = -1.0;
        }

        return Math.Exp(Helper1(t) * x);
    }

    // log1p(x)/x, continuous at 0.
    private static double Helper1(double x) => Math.Abs(x) > 1e-8 ? Math.Log(1.0 + x) / x : 1.0 - (x * (0.5 - (x * (1.0 / 3.0))));

    // expm1(x)/x, continuous at 0.
    private static double Helper2(double x) => Math.Abs(x) > 1e-8 ? (Math.Exp(x) - 1.0) / x : 1.0 + (x * 0.5 * (1.0 + (x * (1.0 / 3.0))));
}

/// <summary>xorshift64*: a tiny, fast, seedable generator for the hot loop (one per connection, not thread-safe).</summary>
public struct FastRandom(ulong seed)
{
    private ulong _state = seed == 0 ? 0x9E3779B97F4A7C15UL : seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        _state ^= _state >> 12;
        _state ^= _state << 25;
        _state ^= _state >> 27;
        return _state * 0x2545F4914F6CDD1DUL;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
}
