using System.Globalization;

namespace EdgeSelector.Learning.Evaluation.Estimators;

/// <summary>Inverse propensity scoring: mean of w·r; unbiased when the log covers the target policy's actions.</summary>
public sealed class IpsEstimator : IEstimator
{
    private MeanAccumulator _terms;
    private WeightDiagnostics _weights;

    /// <inheritdoc />
    public string Name => "ips";

    /// <inheritdoc />
    public bool NeedsRewardModel => false;

    /// <inheritdoc />
    public void Add(in RowTerms row)
    {
        _terms.Add(row.Weight * row.Reward);
        _weights.Add(row.Weight);
    }

    /// <inheritdoc />
    public EstimateResult Result()
    {
        var (low, high) = _terms.Interval();
        return new(Name, _terms.Mean, low, high, _weights.EffectiveSampleSize, _terms.Count, _weights.Warning());
    }
}

/// <summary>Self-normalised IPS: Σwr/Σw; slightly biased, much lower variance; interval by the delta method.</summary>
public sealed class SnipsEstimator : IEstimator
{
    private RatioAccumulator _ratio;
    private WeightDiagnostics _weights;

    /// <inheritdoc />
    public string Name => "snips";

    /// <inheritdoc />
    public bool NeedsRewardModel => false;

    /// <inheritdoc />
    public void Add(in RowTerms row)
    {
        _ratio.Add(row.Weight, row.Reward);
        _weights.Add(row.Weight);
    }

    /// <inheritdoc />
    public EstimateResult Result()
    {
        var (low, high) = _ratio.Interval();
        return new(Name, _ratio.Value, low, high, _ratio.EffectiveSampleSize, _ratio.Count, _weights.Warning());
    }
}

/// <summary>
/// Replay (Li et al. 2011): on a uniformly explored log keep the rows where the target policy would have taken the
/// logged action, weighting each by π(a|x) (1 or 0 for a deterministic policy), and average their rewards. Unbiased
/// only when the logging propensity is the same on every row; warns otherwise.
/// </summary>
public sealed class ReplayEstimator : IEstimator
{
    private RatioAccumulator _ratio;
    private WeightDiagnostics _weights;
    private double _minPropensity = double.PositiveInfinity;
    private double _maxPropensity;

    /// <inheritdoc />
    public string Name => "replay";

    /// <inheritdoc />
    public bool NeedsRewardModel => false;

    /// <summary>Share of rows kept: Σπ(a|x)/n, the matched-subset take fraction for a deterministic policy.</summary>
    public double TakeFraction => _ratio.Count == 0 ? 0 : _ratio.SumWeights / _ratio.Count;

    /// <inheritdoc />
    public void Add(in RowTerms row)
    {
        _ratio.Add(row.TargetProbability, row.Reward);
        _weights.Add(row.TargetProbability);
        _minPropensity = Math.Min(_minPropensity, row.Propensity);
        _maxPropensity = Math.Max(_maxPropensity, row.Propensity);
    }

    /// <inheritdoc />
    public EstimateResult Result()
    {
        var (low, high) = _ratio.Interval();
        var warning = _weights.Warning();
        if (_ratio.Count > 0 && _maxPropensity > _minPropensity * (1 + 1e-9))
        {
            warning = Join(warning, string.Create(CultureInfo.InvariantCulture,
                $"logging propensities vary ({_minPropensity:G4}..{_maxPropensity:G4}): replay assumes uniform logging and is biased here; prefer snips"));
        }

        return new(Name, _ratio.Value, low, high, _ratio.EffectiveSampleSize, _ratio.Count, warning) { TakeFraction = TakeFraction };
    }

    private static string Join(string? a, string b) => a is null ? b : a + "; " + b;
}

/// <summary>
/// Direct method: mean over rows of Σ_a π(a|x) q̂(x, a) with a reward model q̂ fitted on other rows (cross-fitting).
/// Its variance is the row-to-row spread of that term plus <see cref="ModelVariance"/>, the part due to the model's
/// coefficients being estimated; it does not cover misspecification: DM is biased as far as q̂'s form is wrong.
/// </summary>
public sealed class DirectMethodEstimator : IEstimator
{
    private MeanAccumulator _terms;

    /// <inheritdoc />
    public string Name => "dm";

    /// <summary>Variance of the estimate due to the reward model's coefficients (set by the evaluator before <see cref="Result"/>).</summary>
    public double ModelVariance { get; set; }

    /// <inheritdoc />
    public bool NeedsRewardModel => true;

    /// <inheritdoc />
    public void Add(in RowTerms row) => _terms.Add(row.DirectValue);

    /// <inheritdoc />
    public EstimateResult Result()
    {
        var half = MeanAccumulator.Z95 * Math.Sqrt(_terms.VarianceOfMean + ModelVariance);
        var mean = _terms.Mean;
        return new(Name, mean, mean - half, mean + half, _terms.Count, _terms.Count, _terms.Count == 0 ? "no rows" : null);
    }
}

/// <summary>
/// Doubly robust (Dudík et al. 2011): the direct-method term plus an IPS correction of the model's error on the
/// logged action, w·(r − q̂(x, a)); unbiased when either the propensities or the model are right.
/// </summary>
public sealed class DoublyRobustEstimator : IEstimator
{
    private MeanAccumulator _terms;
    private WeightDiagnostics _weights;

    /// <inheritdoc />
    public string Name => "dr";

    /// <inheritdoc />
    public bool NeedsRewardModel => true;

    /// <inheritdoc />
    public void Add(in RowTerms row)
    {
        _terms.Add(row.DirectValue + (row.Weight * (row.Reward - row.PredictedLogged)));
        _weights.Add(row.Weight);
    }

    /// <inheritdoc />
    public EstimateResult Result()
    {
        var (low, high) = _terms.Interval();
        return new(Name, _terms.Mean, low, high, _weights.EffectiveSampleSize, _terms.Count, _weights.Warning());
    }
}
