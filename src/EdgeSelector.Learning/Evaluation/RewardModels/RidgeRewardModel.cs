namespace EdgeSelector.Learning.Evaluation.RewardModels;

/// <summary>
/// A reward model for any reward scale: one ridge regression per (group, action, position) on the context features,
/// fitted in one streaming pass from the normal equations (memory: cells × (d+1)², independent of the row count).
/// </summary>
/// <remarks>
/// Each cell regresses the reward minus the global mean on [1, x] with the penalty λ on every coefficient, intercept
/// included: a cell with few rows shrinks towards the global mean rather than to zero, a cell with none predicts
/// the global mean, and with no features a cell predicts its shrunk mean n(ȳ_cell − ȳ)/(n + λ) + ȳ. Predictions are
/// clamped to the observed reward range, which keeps the DR correction from compounding an extrapolation.
/// </remarks>
public sealed class RidgeRewardModel : IRewardModel
{
    private readonly int _dimension;
    private readonly double _lambda;
    private readonly Dictionary<(long Group, int Action, int Position), int> _index = [];
    private readonly List<Cell> _cells = [];
    private double _rewardSum;
    private long _count;
    private double _minReward = double.PositiveInfinity;
    private double _maxReward = double.NegativeInfinity;
    private double _mean;

    /// <summary>A model over <paramref name="featureCount"/> features with ridge penalty <paramref name="lambda"/> (&gt; 0).</summary>
    public RidgeRewardModel(int featureCount, double lambda)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(lambda);
        _dimension = featureCount + 1;
        _lambda = lambda;
    }

    /// <summary>Training rows added.</summary>
    public long Count => _count;

    /// <inheritdoc />
    public int Dimension => _dimension;

    /// <inheritdoc />
    public double Fallback => _mean;

    /// <summary>Adds one training row.</summary>
    public void Add(LoggedSample sample)
    {
        var key = (sample.Group, sample.Action, sample.Position);
        if (!_index.TryGetValue(key, out var c))
        {
            _index[key] = c = _cells.Count;
            _cells.Add(new Cell(_dimension));
        }

        var cell = _cells[c];
        var d = _dimension;
        var x = sample.Features;
        var y = sample.Reward;
        var xtx = cell.XtX;
        // Row 0 / column 0 is the intercept's constant 1; only the upper triangle is accumulated.
        xtx[0] += 1;
        cell.Xty[0] += y;
        cell.Yty += y * y;
        for (var i = 1; i < d; i++)
        {
            var xi = x[i - 1];
            if (xi == 0)
            {
                continue; // features are often sparse (affinities, one-hots)
            }

            xtx[i] += xi;
            cell.Xty[i] += xi * y;
            var row = i * d;
            for (var j = i; j < d; j++)
            {
                xtx[row + j] += xi * x[j - 1];
            }
        }

        _rewardSum += y;
        _count++;
        _minReward = Math.Min(_minReward, y);
        _maxReward = Math.Max(_maxReward, y);
    }

    /// <summary>Solves every cell's normal equations; call after the last <see cref="Add"/>.</summary>
    public void Fit()
    {
        _mean = _count == 0 ? 0 : _rewardSum / _count;
        var d = _dimension;
        var b = new double[d];
        foreach (var cell in _cells)
        {
            // A = XᵀX + λI; b = Xᵀ(y − ȳ) = Xᵀy − ȳ·Xᵀ1 (row 0 of XᵀX is Xᵀ1).
            Cholesky.Symmetrize(cell.XtX, _lambda, d, cell.Factor);
            for (var i = 0; i < d; i++)
            {
                b[i] = cell.Xty[i] - (_mean * cell.XtX[i]);
            }

            Cholesky.FactorAndSolve(cell.Factor, b, d, cell.Beta);
            cell.NoiseVariance = ResidualVariance(cell, d);
        }
    }

    /// <inheritdoc />
    public bool TryGetCell(long group, int action, int position, out int cell) => _index.TryGetValue((group, action, position), out cell);

    /// <inheritdoc />
    public double Predict(ReadOnlySpan<float> features, int cell)
    {
        var beta = _cells[cell].Beta;
        var value = _mean + beta[0];
        for (var i = 1; i < beta.Length; i++)
        {
            value += beta[i] * features[i - 1];
        }

        return Math.Clamp(value, _minReward, _maxReward);
    }

    /// <inheritdoc />
    public void AddPredictionGradient(ReadOnlySpan<float> features, int cell, double weight, Span<double> gradient)
    {
        gradient[0] += weight;
        for (var i = 1; i < gradient.Length; i++)
        {
            gradient[i] += weight * features[i - 1];
        }
    }

    /// <summary>σ̂²·gᵀA⁻¹g with A = XᵀX + λI: Cov(β) ≈ σ²A⁻¹ slightly overstates the ridge covariance σ²A⁻¹XᵀXA⁻¹ (conservative).</summary>
    public double CoefficientVariance(int cell, ReadOnlySpan<double> gradient) =>
        _cells[cell].NoiseVariance * Cholesky.InverseQuadratic(_cells[cell].Factor, gradient, _dimension);

    private double ResidualVariance(Cell cell, int d)
    {
        // RSS of the centred target y' = y − ȳ: Σy'² − 2βᵀXᵀy' + βᵀXᵀXβ, from the accumulated moments.
        var n = cell.XtX[0];
        var yy = cell.Yty - (2 * _mean * cell.Xty[0]) + (n * _mean * _mean);
        var cross = 0.0;
        var quadratic = 0.0;
        for (var i = 0; i < d; i++)
        {
            cross += cell.Beta[i] * (cell.Xty[i] - (_mean * cell.XtX[i]));
            for (var j = 0; j < d; j++)
            {
                var xtx = i <= j ? cell.XtX[(i * d) + j] : cell.XtX[(j * d) + i];
                quadratic += cell.Beta[i] * xtx * cell.Beta[j];
            }
        }

        var rss = Math.Max(0, yy - (2 * cross) + quadratic);
        return rss / Math.Max(1, n - d);
    }

    private sealed class Cell(int dimension)
    {
        public double[] XtX { get; } = new double[dimension * dimension];

        public double[] Xty { get; } = new double[dimension];

        public double[] Beta { get; } = new double[dimension];

        public double[] Factor { get; } = new double[dimension * dimension];

        public double Yty { get; set; }

        public double NoiseVariance { get; set; }
    }
}
