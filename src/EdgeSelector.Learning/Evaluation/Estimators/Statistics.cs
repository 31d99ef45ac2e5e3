namespace EdgeSelector.Learning.Evaluation.Estimators;

/// <summary>Streaming mean with a normal-approximation confidence interval: for estimators that are means of i.i.d. terms.</summary>
internal struct MeanAccumulator
{
    /// <summary>Two-sided 95% standard normal quantile.</summary>
    public const double Z95 = 1.959963984540054;

    private double _sum;
    private double _sumSquares;

    public long Count { get; private set; }

    public readonly double Mean => Count == 0 ? double.NaN : _sum / Count;

    public void Add(double x)
    {
        Count++;
        _sum += x;
        _sumSquares += x * x;
    }

    /// <summary>s²/n with the unbiased sample variance s² (NaN below two rows).</summary>
    public readonly double VarianceOfMean
    {
        get
        {
            if (Count < 2)
            {
                return double.NaN;
            }

            var mean = _sum / Count;
            return Math.Max(0, (_sumSquares - (Count * mean * mean)) / (Count - 1)) / Count;
        }
    }

    /// <summary>Mean ± z·s/√n.</summary>
    public readonly (double Low, double High) Interval()
    {
        var half = Z95 * Math.Sqrt(VarianceOfMean);
        return (Mean - half, Mean + half);
    }
}

/// <summary>
/// Streaming self-normalised ratio Σwr/Σw with a delta-method interval: Var ≈ Σ w²(r − V̂)² / (Σw)², expanded into
/// running sums so it needs one pass.
/// </summary>
internal struct RatioAccumulator
{
    private double _sumW;
    private double _sumWr;
    private double _sumW2;
    private double _sumW2r;
    private double _sumW2r2;

    public long Count { get; private set; }

    public readonly double SumWeights => _sumW;

    public readonly double Value => _sumW > 0 ? _sumWr / _sumW : double.NaN;

    public readonly double EffectiveSampleSize => _sumW2 > 0 ? _sumW * _sumW / _sumW2 : 0;

    public void Add(double weight, double reward)
    {
        Count++;
        _sumW += weight;
        _sumWr += weight * reward;
        var w2 = weight * weight;
        _sumW2 += w2;
        _sumW2r += w2 * reward;
        _sumW2r2 += w2 * reward * reward;
    }

    public readonly (double Low, double High) Interval()
    {
        if (_sumW <= 0)
        {
            return (double.NaN, double.NaN);
        }

        var v = Value;
        var squaredResiduals = Math.Max(0, _sumW2r2 - (2 * v * _sumW2r) + (v * v * _sumW2));
        var half = MeanAccumulator.Z95 * Math.Sqrt(squaredResiduals) / _sumW;
        return (v - half, v + half);
    }
}
