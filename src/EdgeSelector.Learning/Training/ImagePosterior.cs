namespace EdgeSelector.Learning.Training;

/// <summary>
/// Bayesian linear regression with a Gaussian prior of diagonal covariance: prior θ ~ N(m₀, diag(v₀)), likelihood
/// y ~ N(θ·z, σ²/weight). <see cref="Add"/> accumulates the sufficient statistics Zᵀ·W·Z and Zᵀ·W·y from sparse
/// rows; <see cref="Solve"/> returns the exact posterior mean and the diagonal of the exact posterior covariance.
/// Warm starting feeds the diagonal back as the next prior (assumed-density filtering). docs/learning.md.
/// </summary>
public sealed class DiagonalBayesianRegression
{
    /// <summary>The smallest prior variance taken (a stored variance of 0 would otherwise freeze a weight forever).</summary>
    public const double MinVariance = 1e-10;

    private readonly int _n;
    private readonly double[] _ztz;
    private readonly double[] _zty;

    /// <summary>Creates the accumulator for <paramref name="parameters"/> coefficients.</summary>
    public DiagonalBayesianRegression(int parameters)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parameters, 1);
        _n = parameters;
        _ztz = new double[parameters * parameters];
        _zty = new double[parameters];
    }

    /// <summary>Number of coefficients.</summary>
    public int Parameters => _n;

    /// <summary>Examples added.</summary>
    public long Count { get; private set; }

    /// <summary>Adds one example: non-zero entries of z (<paramref name="indices"/> strictly increasing), target, weight.</summary>
    public void Add(ReadOnlySpan<int> indices, ReadOnlySpan<double> values, double y, double weight = 1.0)
    {
        for (var a = 0; a < indices.Length; a++)
        {
            var ja = indices[a];
            var wza = weight * values[a];
            _zty[ja] += wza * y;
            var row = ja * _n;
            for (var b = a; b < indices.Length; b++)
            {
                _ztz[row + indices[b]] += wza * values[b]; // upper triangle: ja <= indices[b]
            }
        }

        Count++;
    }

    /// <summary>Writes the posterior mean and the diagonal of the posterior covariance for the given prior and noise variance σ².</summary>
    public void Solve(ReadOnlySpan<double> priorMean, ReadOnlySpan<double> priorVariance, double noiseVariance, Span<double> mean, Span<double> variance)
    {
        var n = _n;
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = i; j < n; j++)
            {
                var v = _ztz[(i * n) + j] / noiseVariance;
                a[(i * n) + j] = v;
                a[(j * n) + i] = v;
            }
        }

        for (var i = 0; i < n; i++)
        {
            var precision = 1.0 / Math.Max(priorVariance[i], MinVariance);
            a[(i * n) + i] += precision;
            mean[i] = (precision * priorMean[i]) + (_zty[i] / noiseVariance);
        }

        if (!Cholesky.Factor(a, n))
        {
            throw new InvalidOperationException("posterior precision is not positive definite");
        }

        Cholesky.Solve(a, n, mean);
        Cholesky.InverseDiagonal(a, n, variance);
    }
}

/// <summary>
/// One image's reward model on the serving feature vector: θ = (w₁..w_d, b), z = (x, 1), so the posterior mean is
/// exactly what serving scores (w·x + b on the raw <c>FeatureEncoder</c> vector; nothing standardised).
/// </summary>
public sealed class ImagePosterior
{
    private readonly DiagonalBayesianRegression _regression;
    private readonly int[] _indices;
    private readonly double[] _values;

    /// <summary>Creates the accumulator for a feature dimension d.</summary>
    public ImagePosterior(int dimension)
    {
        Dimension = dimension;
        _regression = new DiagonalBayesianRegression(dimension + 1);
        _indices = new int[dimension + 1];
        _values = new double[dimension + 1];
    }

    /// <summary>The feature dimension d.</summary>
    public int Dimension { get; }

    /// <summary>Examples added.</summary>
    public long Count => _regression.Count;

    /// <summary>Adds one example: feature vector (length d), target, weight.</summary>
    public void Add(ReadOnlySpan<float> x, double y, double weight = 1.0)
    {
        var nz = 0;
        for (var j = 0; j < x.Length; j++)
        {
            if (x[j] != 0f)
            {
                _indices[nz] = j;
                _values[nz++] = x[j];
            }
        }

        _indices[nz] = Dimension;
        _values[nz++] = 1.0;
        _regression.Add(_indices.AsSpan(0, nz), _values.AsSpan(0, nz), y, weight);
    }

    /// <summary>Posterior for a prior given as (weights, bias) means and variances (length d + 1, bias last).</summary>
    public void Solve(ReadOnlySpan<double> priorMean, ReadOnlySpan<double> priorVariance, double noiseVariance, Span<double> mean, Span<double> variance) =>
        _regression.Solve(priorMean, priorVariance, noiseVariance, mean, variance);
}
