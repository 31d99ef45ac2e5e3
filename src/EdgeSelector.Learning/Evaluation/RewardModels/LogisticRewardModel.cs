namespace EdgeSelector.Learning.Evaluation.RewardModels;

/// <summary>
/// A reward model for 0/1 rewards: one L2-penalised logistic regression per (group, action, position), fitted by
/// Newton's method (IRLS) with one streaming pass over the data per iteration (memory: cells × (d+1)²).
/// </summary>
/// <remarks>
/// logit q̂ = offset + β·[1, x] with offset = logit of the global mean, so the penalty λ‖β‖² shrinks a sparse cell
/// towards the global mean. When the truth is logistic in the features (as in the simulator) the model is well
/// specified where a linear one would bias DM. The coefficient covariance for the DM interval is the inverse
/// penalised Fisher information (XᵀWX + λI)⁻¹ at the fit.
/// </remarks>
public sealed class LogisticRewardModel : IRewardModel
{
    /// <summary>Newton iterations stop when no coefficient moves more than this (logit units: far below any effect).</summary>
    public const double Tolerance = 1e-4;

    private readonly int _dimension;
    private readonly double _lambda;
    private readonly double _offset;
    private readonly Dictionary<(long Group, int Action, int Position), int> _index = [];
    private readonly List<Cell> _cells = [];

    /// <summary>A model over <paramref name="featureCount"/> features, penalty λ &gt; 0, shrinking towards <paramref name="globalMean"/>.</summary>
    public LogisticRewardModel(int featureCount, double lambda, double globalMean)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(lambda);
        _dimension = featureCount + 1;
        _lambda = lambda;
        var p = Math.Clamp(globalMean, 1e-6, 1 - 1e-6);
        _offset = Math.Log(p / (1 - p));
    }

    /// <inheritdoc />
    public int Dimension => _dimension;

    /// <inheritdoc />
    public double Fallback => 1 / (1 + Math.Exp(-_offset));

    /// <summary>Starts an iteration: clears the accumulated Hessians and gradients (the coefficients are kept).</summary>
    public void BeginIteration()
    {
        foreach (var cell in _cells)
        {
            Array.Clear(cell.Hessian);
            Array.Clear(cell.Score);
        }
    }

    /// <summary>Adds one training row at the current coefficients.</summary>
    public void Add(LoggedSample sample)
    {
        var key = (sample.Group, sample.Action, sample.Position);
        if (!_index.TryGetValue(key, out var c))
        {
            _index[key] = c = _cells.Count;
            _cells.Add(new Cell(_dimension));
        }

        var cell = _cells[c];
        var x = sample.Features;
        var mu = Predict(x, c);
        var w = mu * (1 - mu);
        var residual = sample.Reward - mu;
        var d = _dimension;
        var h = cell.Hessian;
        h[0] += w;
        cell.Score[0] += residual;
        for (var i = 1; i < d; i++)
        {
            var xi = x[i - 1];
            if (xi == 0)
            {
                continue;
            }

            var wxi = w * xi;
            h[i] += wxi;
            cell.Score[i] += residual * xi;
            var row = i * d;
            for (var j = i; j < d; j++)
            {
                h[row + j] += wxi * x[j - 1];
            }
        }
    }

    /// <summary>Takes one Newton step in every cell; true when every step was below <see cref="Tolerance"/>.</summary>
    public bool EndIteration()
    {
        var d = _dimension;
        Span<double> gradient = stackalloc double[d];
        Span<double> step = stackalloc double[d];
        var converged = true;
        foreach (var cell in _cells)
        {
            // Penalised log-likelihood: gradient Σ(y − μ)x̃ − λβ, negative Hessian Σ w x̃x̃ᵀ + λI.
            Cholesky.Symmetrize(cell.Hessian, _lambda, d, cell.Factor);
            for (var i = 0; i < d; i++)
            {
                gradient[i] = cell.Score[i] - (_lambda * cell.Beta[i]);
            }

            Cholesky.FactorAndSolve(cell.Factor, gradient, d, step);
            for (var i = 0; i < d; i++)
            {
                cell.Beta[i] += step[i];
                converged &= Math.Abs(step[i]) < Tolerance;
            }
        }

        return converged;
    }

    /// <inheritdoc />
    public bool TryGetCell(long group, int action, int position, out int cell) => _index.TryGetValue((group, action, position), out cell);

    /// <inheritdoc />
    public double Predict(ReadOnlySpan<float> features, int cell) => 1 / (1 + Math.Exp(-Eta(features, _cells[cell].Beta)));

    /// <inheritdoc />
    public void AddPredictionGradient(ReadOnlySpan<float> features, int cell, double weight, Span<double> gradient)
    {
        // ∂σ(η)/∂β = σ(1 − σ)·x̃.
        var q = Predict(features, cell);
        var scale = weight * q * (1 - q);
        gradient[0] += scale;
        for (var i = 1; i < gradient.Length; i++)
        {
            gradient[i] += scale * features[i - 1];
        }
    }

    /// <inheritdoc />
    public double CoefficientVariance(int cell, ReadOnlySpan<double> gradient) =>
        Cholesky.InverseQuadratic(_cells[cell].Factor, gradient, _dimension);

    private double Eta(ReadOnlySpan<float> x, double[] beta)
    {
        var eta = _offset + beta[0];
        for (var i = 1; i < beta.Length; i++)
        {
            eta += beta[i] * x[i - 1];
        }

        return eta;
    }

    private sealed class Cell(int dimension)
    {
        public double[] Beta { get; } = new double[dimension];

        public double[] Hessian { get; } = new double[dimension * dimension];

        public double[] Score { get; } = new double[dimension];

        public double[] Factor { get; } = new double[dimension * dimension];
    }
}
