namespace EdgeSelector.Learning.Evaluation.RewardModels;

/// <summary>
/// The reward model q̂(x, a) behind the direct method and doubly robust: one ridge regression per (group, action, position)
/// on the context features, fitted in one streaming pass from the normal equations (memory: cells × (d+1)²).
/// </summary>
/// <remarks>
/// Each cell regresses the reward minus the global mean on [1, x] with the penalty λ on every coefficient, intercept
/// included: a cell with few rows shrinks towards the global mean rather than to zero, a cell with none predicts
/// the global mean, and with no features a cell predicts its shrunk mean n(ȳ_cell − ȳ)/(n + λ) + ȳ. Predictions are
/// clamped to the observed reward range, which keeps the DR correction from compounding an extrapolation.
/// </remarks>
public sealed class RidgeRewardModel
{
    private readonly int _dimension;
    private readonly double _lambda;
    private readonly Dictionary<(long Group, int Action, int Position), Cell> _cells = [];
    private double _rewardSum;
    private long _count;
    private double _minReward = double.PositiveInfinity;
    private double _maxReward = double.NegativeInfinity;
    private double _mean;
    private bool _fitted;

    /// <summary>A model over <paramref name="featureCount"/> features with ridge penalty <paramref name="lambda"/> (&gt; 0).</summary>
    public RidgeRewardModel(int featureCount, double lambda)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(lambda);
        _dimension = featureCount + 1;
        _lambda = lambda;
    }

    /// <summary>Training rows added.</summary>
    public long Count => _count;

    /// <summary>Adds one training row.</summary>
    public void Add(LoggedSample sample)
    {
        var key = (sample.Group, sample.Action, sample.Position);
        if (!_cells.TryGetValue(key, out var cell))
        {
            _cells[key] = cell = new Cell(_dimension);
        }

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
        _fitted = false;
    }

    /// <summary>Solves every cell's normal equations; call after the last <see cref="Add"/>.</summary>
    public void Fit()
    {
        _mean = _count == 0 ? 0 : _rewardSum / _count;
        var d = _dimension;
        var a = new double[d * d];
        var b = new double[d];
        foreach (var cell in _cells.Values)
        {
            // A = XᵀX + λI (mirrored from the upper triangle); b = Xᵀ(y − ȳ) = Xᵀy − ȳ·Xᵀ1.
            for (var i = 0; i < d; i++)
            {
                for (var j = i; j < d; j++)
                {
                    a[(i * d) + j] = a[(j * d) + i] = cell.XtX[(i * d) + j] + (i == j ? _lambda : 0);
                }

                b[i] = cell.Xty[i] - (_mean * cell.XtX[i]);
            }

            SolveCholesky(a, b, d, cell.Beta);
            a.CopyTo(cell.Factor, 0);
            cell.NoiseVariance = ResidualVariance(cell, d);
        }

        _fitted = true;
    }

    /// <summary>q̂(x, a) at <paramref name="position"/> within <paramref name="group"/>.</summary>
    public double Predict(ReadOnlySpan<float> features, long group, int action, int position)
    {
        if (!_fitted)
        {
            throw new InvalidOperationException("Fit the model before predicting.");
        }

        if (!_cells.TryGetValue((group, action, position), out var cell))
        {
            return _mean;
        }

        var beta = cell.Beta;
        var value = _mean + beta[0];
        for (var i = 1; i < beta.Length; i++)
        {
            value += beta[i] * features[i - 1];
        }

        return Math.Clamp(value, _minReward, _maxReward);
    }

    /// <summary>
    /// Adds weight·[1, x] to the gradient of the cell (action, position): the direct method's value is linear in each
    /// cell's coefficients, with this (normalised) vector as the derivative.
    /// </summary>
    public void AddGradient(ReadOnlySpan<float> features, long group, int action, int position, double weight)
    {
        if (!_cells.TryGetValue((group, action, position), out var cell))
        {
            return; // the cell predicts the global mean, whose uncertainty is negligible next to a cell's
        }

        var g = cell.Gradient;
        g[0] += weight;
        for (var i = 1; i < g.Length; i++)
        {
            g[i] += weight * features[i - 1];
        }
    }

    /// <summary>
    /// Σ_cells σ²·gᵀA⁻¹g over the gradients added: the variance that the coefficients' estimation error adds to
    /// Σ_rows Σ_a π q̂ (divide by n² for the mean). Uses Cov(β) ≈ σ²A⁻¹ with A = XᵀX + λI, which slightly
    /// overstates the ridge covariance σ²A⁻¹XᵀXA⁻¹: conservative.
    /// </summary>
    public double CoefficientVariance()
    {
        var total = 0.0;
        foreach (var cell in _cells.Values)
        {
            total += cell.NoiseVariance * QuadraticInverse(cell.Factor, cell.Gradient, cell.Gradient.Length);
        }

        return total;
    }

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

    // gᵀA⁻¹g = ‖L⁻¹g‖² with A = LLᵀ (the factor left in the lower triangle by SolveCholesky).
    private static double QuadraticInverse(double[] factor, double[] g, int n)
    {
        Span<double> z = n <= 256 ? stackalloc double[n] : new double[n];
        var sum = 0.0;
        for (var i = 0; i < n; i++)
        {
            var s = g[i];
            for (var k = 0; k < i; k++)
            {
                s -= factor[(i * n) + k] * z[k];
            }

            z[i] = s / factor[(i * n) + i];
            sum += z[i] * z[i];
        }

        return sum;
    }

    // A is symmetric positive definite (λ > 0): factor A = LLᵀ in place, then solve Ly = b, Lᵀx = y.
    private static void SolveCholesky(double[] a, double[] b, int n, double[] x)
    {
        for (var j = 0; j < n; j++)
        {
            var sum = a[(j * n) + j];
            for (var k = 0; k < j; k++)
            {
                sum -= a[(j * n) + k] * a[(j * n) + k];
            }

            var diagonal = Math.Sqrt(sum);
            a[(j * n) + j] = diagonal;
            for (var i = j + 1; i < n; i++)
            {
                var s = a[(i * n) + j];
                for (var k = 0; k < j; k++)
                {
                    s -= a[(i * n) + k] * a[(j * n) + k];
                }

                a[(i * n) + j] = s / diagonal;
            }
        }

        for (var i = 0; i < n; i++)
        {
            var s = b[i];
            for (var k = 0; k < i; k++)
            {
                s -= a[(i * n) + k] * x[k];
            }

            x[i] = s / a[(i * n) + i];
        }

        for (var i = n - 1; i >= 0; i--)
        {
            var s = x[i];
            for (var k = i + 1; k < n; k++)
            {
                s -= a[(k * n) + i] * x[k];
            }

            x[i] = s / a[(i * n) + i];
        }
    }

    private sealed class Cell(int dimension)
    {
        public double[] XtX { get; } = new double[dimension * dimension];

        public double[] Xty { get; } = new double[dimension];

        public double[] Beta { get; } = new double[dimension];

        public double[] Factor { get; } = new double[dimension * dimension];

        public double[] Gradient { get; } = new double[dimension];

        public double Yty { get; set; }

        public double NoiseVariance { get; set; }
    }
}
