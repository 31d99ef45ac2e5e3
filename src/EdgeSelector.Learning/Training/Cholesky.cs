namespace EdgeSelector.Learning.Training;

/// <summary>In-place Cholesky factorisation of a small dense symmetric positive-definite matrix (row-major, n × n).</summary>
internal static class Cholesky
{
    /// <summary>Overwrites the lower triangle of <paramref name="a"/> with L (A = L·Lᵀ); false if A is not positive definite.</summary>
    public static bool Factor(Span<double> a, int n)
    {
        for (var j = 0; j < n; j++)
        {
            var rowJ = a.Slice(j * n, n);
            var sum = rowJ[j];
            for (var k = 0; k < j; k++)
            {
                sum -= rowJ[k] * rowJ[k];
            }

            if (!(sum > 0))
            {
                return false;
            }

            var diag = Math.Sqrt(sum);
            rowJ[j] = diag;
            for (var i = j + 1; i < n; i++)
            {
                var rowI = a.Slice(i * n, n);
                var s = rowI[j];
                for (var k = 0; k < j; k++)
                {
                    s -= rowI[k] * rowJ[k];
                }

                rowI[j] = s / diag;
            }
        }

        return true;
    }

    /// <summary>Solves L·Lᵀ·x = b in place (b becomes x) with the factor from <see cref="Factor"/>.</summary>
    public static void Solve(ReadOnlySpan<double> l, int n, Span<double> b)
    {
        for (var i = 0; i < n; i++)
        {
            var s = b[i];
            var row = l.Slice(i * n, n);
            for (var k = 0; k < i; k++)
            {
                s -= row[k] * b[k];
            }

            b[i] = s / row[i];
        }

        for (var i = n - 1; i >= 0; i--)
        {
            var s = b[i];
            for (var k = i + 1; k < n; k++)
            {
                s -= l[(k * n) + i] * b[k];
            }

            b[i] = s / l[(i * n) + i];
        }
    }

    /// <summary>The diagonal of A⁻¹ from the factor: (A⁻¹)_ii = Σ_k (L⁻¹)_ki², computed column by column of L⁻¹.</summary>
    public static void InverseDiagonal(ReadOnlySpan<double> l, int n, Span<double> diagonal)
    {
        diagonal.Clear();
        var column = new double[n];
        for (var i = 0; i < n; i++)
        {
            // Column i of L⁻¹: solve L·c = e_i (c_k = 0 for k < i).
            Array.Clear(column);
            column[i] = 1.0 / l[(i * n) + i];
            diagonal[i] += column[i] * column[i];
            for (var k = i + 1; k < n; k++)
            {
                var s = 0.0;
                var row = l.Slice(k * n, n);
                for (var m = i; m < k; m++)
                {
                    s -= row[m] * column[m];
                }

                column[k] = s / row[k];
                diagonal[i] += column[k] * column[k];
            }
        }
    }
}
