using System.Diagnostics;
using System.Globalization;
using EdgeSelector.Learning.Evaluation.Estimators;
using EdgeSelector.Learning.Evaluation.Policies;
using EdgeSelector.Learning.Evaluation.RewardModels;

namespace EdgeSelector.Learning.Evaluation;

/// <summary>Knobs of an evaluation run.</summary>
public sealed record EvaluationOptions
{
    /// <summary>Ridge penalty of the direct-method reward model.</summary>
    public double RidgeLambda { get; init; } = 1.0;

    /// <summary>Seed of the cross-fitting fold assignment.</summary>
    public ulong Seed { get; init; }
}

/// <summary>The estimates of one run, in the order the estimators were asked for.</summary>
/// <param name="Results">One result per estimator.</param>
/// <param name="Rows">Logged rows read.</param>
/// <param name="Elapsed">Wall time of the run.</param>
public sealed record EvaluationReport(IReadOnlyList<EstimateResult> Results, long Rows, TimeSpan Elapsed);

/// <summary>
/// Runs off-policy estimators over a logged bandit source in at most two streaming passes: the first fits two
/// cross-fitted reward models (only when DM or DR is asked for), the second feeds every row's terms to every
/// estimator. Memory does not grow with the number of rows.
/// </summary>
public static class OffPolicyEvaluator
{
    /// <summary>Every estimator name, in the default order.</summary>
    public static readonly IReadOnlyList<string> AllEstimators = ["ips", "snips", "dm", "dr", "replay"];

    /// <summary>A fresh estimator by name; throws <see cref="EvaluationInputException"/> for an unknown one.</summary>
    public static IEstimator Create(string name) => name switch
    {
        "ips" => new IpsEstimator(),
        "snips" => new SnipsEstimator(),
        "dm" => new DirectMethodEstimator(),
        "dr" => new DoublyRobustEstimator(),
        "replay" => new ReplayEstimator(),
        _ => throw new EvaluationInputException($"Unknown estimator '{name}' (known: {string.Join(',', AllEstimators)})."),
    };

    /// <summary>Evaluates <paramref name="policy"/> on <paramref name="source"/> with the named estimators.</summary>
    public static EvaluationReport Evaluate(
        ILoggedBanditSource source, TargetPolicy policy, IReadOnlyList<string> estimatorNames, EvaluationOptions? options = null)
    {
        options ??= new EvaluationOptions();
        var clock = Stopwatch.StartNew();
        var estimators = estimatorNames.Select(Create).ToArray();
        var needsModel = estimators.Any(e => e.NeedsRewardModel);
        if (needsModel && !policy.HasFullDistribution)
        {
            throw new EvaluationInputException(
                "dm and dr need the policy's whole distribution per row; this policy gives only the logged action's probability (use p_<action> columns, or ask for ips,snips,replay).");
        }

        RidgeRewardModel[]? models = needsModel ? FitCrossFitted(source, options) : null;
        var directMethod = estimators.OfType<DirectMethodEstimator>().FirstOrDefault();
        var sample = new LoggedSample(source.FeatureNames.Count);
        long rows = 0;
        using (var reader = source.OpenReader())
        using (var cursor = policy.Open())
        {
            while (reader.TryRead(sample))
            {
                Validate(sample);
                cursor.MoveTo(sample);
                var target = cursor.Probability(sample.Action);
                var weight = target / sample.Propensity;
                double direct = 0, predicted = 0;
                if (models is not null)
                {
                    // Score each row with the model that did not train on it.
                    var model = models[1 - Fold(sample.RowIndex, options.Seed)];
                    predicted = model.Predict(sample.Features, sample.Group, sample.Action, sample.Position);
                    foreach (var (action, probability) in cursor.Distribution)
                    {
                        direct += probability * model.Predict(sample.Features, sample.Group, action, sample.Position);
                        if (directMethod is not null)
                        {
                            model.AddGradient(sample.Features, sample.Group, action, sample.Position, probability);
                        }
                    }
                }

                var terms = new RowTerms(weight, target, sample.Propensity, sample.Reward, direct, predicted);
                foreach (var estimator in estimators)
                {
                    estimator.Add(terms);
                }

                rows++;
            }

            cursor.Finish();
        }

        if (rows == 0)
        {
            throw new EvaluationInputException("The data has no rows.");
        }

        if (directMethod is not null)
        {
            directMethod.ModelVariance = models!.Sum(m => m.CoefficientVariance()) / ((double)rows * rows);
        }

        return new EvaluationReport(estimators.Select(e => e.Result()).ToArray(), rows, clock.Elapsed);
    }

    private static RidgeRewardModel[] FitCrossFitted(ILoggedBanditSource source, EvaluationOptions options)
    {
        var models = new[]
        {
            new RidgeRewardModel(source.FeatureNames.Count, options.RidgeLambda),
            new RidgeRewardModel(source.FeatureNames.Count, options.RidgeLambda),
        };
        var sample = new LoggedSample(source.FeatureNames.Count);
        using (var reader = source.OpenReader())
        {
            while (reader.TryRead(sample))
            {
                models[Fold(sample.RowIndex, options.Seed)].Add(sample);
            }
        }

        foreach (var model in models)
        {
            model.Fit();
        }

        return models;
    }

    private static void Validate(LoggedSample sample)
    {
        if (!(sample.Propensity > 0 && sample.Propensity <= 1))
        {
            throw new EvaluationInputException(string.Create(CultureInfo.InvariantCulture,
                $"Row {sample.RowIndex}: propensity {sample.Propensity} is outside (0, 1]."));
        }
    }

    // Deterministic pseudo-random fold (splitmix64 finaliser): logs are often ordered by time or position, so
    // alternating rows would correlate the folds with the data's order.
    private static int Fold(long rowIndex, ulong seed)
    {
        var z = unchecked((ulong)rowIndex + seed + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return (int)((z ^ (z >> 31)) & 1);
    }
}
