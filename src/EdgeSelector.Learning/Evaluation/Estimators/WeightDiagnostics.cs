using System.Globalization;

namespace EdgeSelector.Learning.Evaluation.Estimators;

/// <summary>
/// Tracks importance weights and says when they are too extreme for the estimate (and its normal interval) to be
/// trusted. Thresholds, documented in docs/evaluation.md: the effective sample size (Σw)²/Σw² is below
/// <see cref="MinEffectiveSampleSize"/> or below <see cref="MinEffectiveFraction"/> of the rows, or a single row
/// carries more than <see cref="MaxWeightShare"/> of the total weight.
/// </summary>
public struct WeightDiagnostics
{
    /// <summary>Below this many effective rows the normal approximation behind the interval is unreliable.</summary>
    public const double MinEffectiveSampleSize = 30;

    /// <summary>Below this share of the rows the target policy is mostly unsupported by the log.</summary>
    public const double MinEffectiveFraction = 0.01;

    /// <summary>Above this share of Σw one row decides the estimate.</summary>
    public const double MaxWeightShare = 0.1;

    private double _sumW;
    private double _sumW2;

    /// <summary>Rows seen.</summary>
    public long Count { get; private set; }

    /// <summary>Largest weight seen.</summary>
    public double MaxWeight { get; private set; }

    /// <summary>(Σw)²/Σw², 0 when every weight was 0.</summary>
    public readonly double EffectiveSampleSize => _sumW2 > 0 ? _sumW * _sumW / _sumW2 : 0;

    /// <summary>Adds one row's weight.</summary>
    public void Add(double weight)
    {
        Count++;
        _sumW += weight;
        _sumW2 += weight * weight;
        MaxWeight = Math.Max(MaxWeight, weight);
    }

    /// <summary>The warning text, or null when the weights look healthy.</summary>
    public readonly string? Warning()
    {
        if (Count == 0)
        {
            return "no rows";
        }

        if (_sumW <= 0)
        {
            return "the target policy gives probability 0 to every logged action: no logged row supports it";
        }

        var ess = EffectiveSampleSize;
        var messages = new List<string>();
        if (ess < MinEffectiveSampleSize || ess < MinEffectiveFraction * Count)
        {
            messages.Add(string.Create(CultureInfo.InvariantCulture,
                $"effective sample size {ess:0.#} of {Count} rows is below max({MinEffectiveSampleSize}, {MinEffectiveFraction:P0} of rows)"));
        }

        var share = MaxWeight / _sumW;
        if (share > MaxWeightShare)
        {
            messages.Add(string.Create(CultureInfo.InvariantCulture,
                $"one row carries {share:P1} of the total weight (max weight {MaxWeight:G4})"));
        }

        return messages.Count == 0 ? null : "extreme weights: " + string.Join("; ", messages);
    }
}
