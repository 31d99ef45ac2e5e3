namespace EdgeSelector.Learning.Evaluation.RewardModels;

/// <summary>
/// A fitted reward model q̂(x, a) with one coefficient vector per cell (group, action, position), and what the
/// direct method needs to put an interval on Σ π·q̂: the derivative of a prediction with respect to the cell's
/// coefficients and the coefficients' covariance.
/// </summary>
public interface IRewardModel
{
    /// <summary>Length of a cell's coefficient vector: 1 + the feature count.</summary>
    int Dimension { get; }

    /// <summary>The cell of (group, action, position), or false when no training row had it (it predicts the mean).</summary>
    bool TryGetCell(long group, int action, int position, out int cell);

    /// <summary>q̂ for a row whose (group, action, position) has no cell.</summary>
    double Fallback { get; }

    /// <summary>q̂(x) of a cell.</summary>
    double Predict(ReadOnlySpan<float> features, int cell);

    /// <summary>Adds weight × ∂q̂(x)/∂β_cell to <paramref name="gradient"/> (length <see cref="Dimension"/>).</summary>
    void AddPredictionGradient(ReadOnlySpan<float> features, int cell, double weight, Span<double> gradient);

    /// <summary>gᵀ Cov(β_cell) g: the variance of a linear function g of the cell's coefficients.</summary>
    double CoefficientVariance(int cell, ReadOnlySpan<double> gradient);
}

/// <summary>Which reward model DM and DR use.</summary>
public enum RewardModelKind
{
    /// <summary>Logistic when every training reward is 0 or 1, ridge otherwise.</summary>
    Auto,
    /// <summary>Per-cell ridge regression (any reward scale).</summary>
    Ridge,
    /// <summary>Per-cell L2-penalised logistic regression (0/1 rewards).</summary>
    Logistic,
}

/// <summary>Dense symmetric positive-definite solves for the reward models (d is small: features + 1).</summary>
internal static class Cholesky
{
    /// <summary>Factors A = LLᵀ in place (L in the lower triangle) and solves Ax = b.</summary>
    public static void FactorAndSolve(double[] a, ReadOnlySpan<double> b, int n, Span<double> x)
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

    /// <summary>gᵀA⁻¹g = ‖L⁻¹g‖² from the factor left by <see cref="FactorAndSolve"/>.</summary>
    public static double InverseQuadratic(double[] factor, ReadOnlySpan<double> g, int n)
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

    /// <summary>Fills the lower triangle of A from its accumulated upper triangle and adds λ to the diagonal.</summary>
    public static void Symmetrize(double[] upper, double lambda, int n, double[] a)
    {
        for (var i = 0; i < n; i++)
        {
            for (var j = i; j < n; j++)
            {
                a[(i * n) + j] = a[(j * n) + i] = upper[(i * n) + j] + (i == j ? lambda : 0);
            }
        }
    }
}
