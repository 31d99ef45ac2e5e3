namespace EdgeSelector.Learning.Evaluation.Estimators;

/// <summary>What one estimator says about the target policy's value.</summary>
/// <param name="Name">Estimator name as used on the command line (ips, snips, dm, dr, replay).</param>
/// <param name="Value">The estimated expected reward per decision (NaN when undefined, e.g. no matched rows).</param>
/// <param name="CiLow">Lower end of the 95% confidence interval.</param>
/// <param name="CiHigh">Upper end of the 95% confidence interval.</param>
/// <param name="EffectiveSampleSize">(Σw)²/Σw² over the rows' importance weights; the row count for the direct method.</param>
/// <param name="Rows">Rows the estimate used.</param>
/// <param name="Warning">Why the estimate should not be trusted, or null (see <see cref="WeightDiagnostics"/>).</param>
public sealed record EstimateResult(
    string Name, double Value, double CiLow, double CiHigh, double EffectiveSampleSize, long Rows, string? Warning)
{
    /// <summary>Replay only: Σπ(a|x)/n, the share of rows kept (the matched-subset take fraction for a deterministic policy).</summary>
    public double? TakeFraction { get; init; }
}

/// <summary>The per-row quantities every estimator is built from, computed once per row by the evaluator.</summary>
/// <param name="Weight">Importance weight π(a|x)/μ(a|x) of the logged action.</param>
/// <param name="TargetProbability">π(a|x) of the logged action under the target policy.</param>
/// <param name="Propensity">μ(a|x), the logging policy's probability of the logged action.</param>
/// <param name="Reward">Observed reward.</param>
/// <param name="DirectValue">Σ_a π(a|x) q̂(x, a): the reward model's value of the target policy on this row (0 without a model).</param>
/// <param name="PredictedLogged">q̂(x, a) for the logged action (0 without a model).</param>
public readonly record struct RowTerms(
    double Weight, double TargetProbability, double Propensity, double Reward, double DirectValue, double PredictedLogged);

/// <summary>
/// An off-policy estimator as a streaming accumulator: rows go in one at a time, memory stays constant. Estimators
/// only combine per-row terms; fitting the reward model they may use is the learner's job (<c>RidgeRewardModel</c>).
/// </summary>
public interface IEstimator
{
    /// <summary>Name used on the command line and in JSON output.</summary>
    string Name { get; }

    /// <summary>True when the estimator needs <see cref="RowTerms.DirectValue"/> and <see cref="RowTerms.PredictedLogged"/>.</summary>
    bool NeedsRewardModel { get; }

    /// <summary>Adds one row.</summary>
    void Add(in RowTerms row);

    /// <summary>The estimate over the rows added so far.</summary>
    EstimateResult Result();
}
