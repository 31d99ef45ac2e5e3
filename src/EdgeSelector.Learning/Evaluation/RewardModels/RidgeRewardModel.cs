namespace EdgeSelector.Learning.Evaluation.RewardModels;

/// <summary>
/// The reward model q̂(x, a) behind the direct method and doubly robust: one ridge regression per (action, position)
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
    private readonly Dictionary<long, Cell> _cells = [];
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
        var key = Key(sample.Action, sample.Position);
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
        }

        _fitted = true;
    }

    /// <summary>q̂(x, a) at <paramref name="position"/>.</summary>
    public double Predict(ReadOnlySpan<float> features, int action, int position)
    {
        if (!_fitted)
        {
            throw new InvalidOperationException("Fit the model before predicting.");
        }

        if (!_cells.TryGetValue(Key(action, position), out var cell))
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

    private static long Key(int action, int position) => ((long)action << 32) | (uint)position;

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
    }
}
