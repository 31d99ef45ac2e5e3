using System.Diagnostics;
using System.Globalization;
using EdgeSelector.Learning.Evaluation.Data;
using EdgeSelector.Learning.Evaluation.Estimators;
using EdgeSelector.Learning.Evaluation.Policies;
using EdgeSelector.Learning.Evaluation.RewardModels;

namespace EdgeSelector.Learning.Evaluation;

/// <summary>Knobs of an evaluation run.</summary>
public sealed record EvaluationOptions
{
    /// <summary>Default L2 penalty of the ridge reward model (rewards of any scale, features as given).</summary>
    public const double DefaultRidgePenalty = 1.0;

    /// <summary>
    /// Default L2 penalty of the logistic reward model: weak, because coefficients on un-standardised features
    /// (genre shares of a few percent) are large; the shrink target is the global mean, and the penalty still keeps
    /// cells without a single positive finite.
    /// </summary>
    public const double DefaultLogisticPenalty = 0.01;

    /// <summary>L2 penalty of the DM/DR reward model; null for the model's default.</summary>
    public double? Penalty { get; init; }

    /// <summary>Which reward model DM and DR use.</summary>
    public RewardModelKind RewardModel { get; init; } = RewardModelKind.Auto;

    /// <summary>Most Newton iterations (data passes) of the logistic reward model.</summary>
    public int MaxIterations { get; init; } = 20;

    /// <summary>Seed of the cross-fitting fold assignment.</summary>
    public ulong Seed { get; init; }

    /// <summary>
    /// Bytes of row data up to which the logistic fit keeps the log in memory between its passes instead of re-reading
    /// the source (default 128 MB of row data, 3.3M rows of 2 features or 1.3M impression rows; the growing lists
    /// can briefly hold twice that); a larger log streams every pass.
    /// </summary>
    public long CacheBytes { get; init; } = 128L << 20;

    /// <summary>
    /// Also estimate every policy within each segment of the impressions (<see cref="Segment"/>: interacted before or
    /// not, device, country), each with its own interval; rows without an impression record (OBD, CSV) have none.
    /// </summary>
    public bool BySegment { get; init; }
}

/// <summary>The estimates of one policy, in the order the estimators were asked for.</summary>
/// <param name="Results">One result per estimator.</param>
/// <param name="Rows">Logged rows read.</param>
/// <param name="Elapsed">Wall time of the run (shared by all policies of one run).</param>
public sealed record EvaluationReport(IReadOnlyList<EstimateResult> Results, long Rows, TimeSpan Elapsed)
{
    /// <summary>The same estimators within each segment (empty unless <see cref="EvaluationOptions.BySegment"/>), in segment order.</summary>
    public IReadOnlyList<SegmentReport> Segments { get; init; } = [];
}

/// <summary>
/// Runs off-policy estimators over a logged bandit source in streaming passes: when DM or DR is asked for, first
/// the cross-fitted reward models (one pass for ridge, one per Newton iteration for logistic), then one pass that
/// feeds every row's terms to every estimator of every policy. Memory does not grow with the number of rows.
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
        ILoggedBanditSource source, TargetPolicy policy, IReadOnlyList<string> estimatorNames, EvaluationOptions? options = null) =>
        Evaluate(source, [policy], estimatorNames, options)[0];

    /// <summary>Evaluates several policies in one pass, sharing the reward model fit; one report per policy.</summary>
    public static IReadOnlyList<EvaluationReport> Evaluate(
        ILoggedBanditSource source, IReadOnlyList<TargetPolicy> policies, IReadOnlyList<string> estimatorNames, EvaluationOptions? options = null)
    {
        options ??= new EvaluationOptions();
        var clock = Stopwatch.StartNew();
        var runs = policies.Select(p => new PolicyRun(p, estimatorNames, options.BySegment)).ToArray();
        var needsModel = runs.Length > 0 && runs[0].Estimators.Any(e => e.NeedsRewardModel);
        if (needsModel && policies.Any(p => !p.HasFullDistribution))
        {
            throw new EvaluationInputException(
                "dm and dr need the policy's whole distribution per row; this policy gives only the logged action's probability (use p_<action> columns, or ask for ips,snips,replay).");
        }

        var models = needsModel ? FitCrossFitted(source, options) : null;
        var sample = new LoggedSample(source.FeatureNames.Count);
        long rows = 0;
        using (var reader = source.OpenReader())
        {
            foreach (var run in runs)
            {
                run.Cursor = run.Policy.Open();
            }

            try
            {
                while (reader.TryRead(sample))
                {
                    Validate(sample);
                    // Each row is scored by the model of the other fold.
                    var modelIndex = models is null ? 0 : 1 - Fold(sample.RowIndex, options.Seed);
                    foreach (var run in runs)
                    {
                        run.Add(sample, models?[modelIndex], modelIndex);
                    }

                    rows++;
                }

                foreach (var run in runs)
                {
                    run.Cursor!.Finish();
                }
            }
            finally
            {
                foreach (var run in runs)
                {
                    run.Cursor?.Dispose();
                }
            }
        }

        if (rows == 0)
        {
            throw new EvaluationInputException("The data has no rows.");
        }

        return runs.Select(run => run.Report(models, rows, clock.Elapsed)).ToArray();
    }

    private static IRewardModel[] FitCrossFitted(ILoggedBanditSource source, EvaluationOptions options)
    {
        var features = source.FeatureNames.Count;
        var ridgePenalty = options.Penalty ?? EvaluationOptions.DefaultRidgePenalty;
        var ridge = new[] { new RidgeRewardModel(features, ridgePenalty), new RidgeRewardModel(features, ridgePenalty) };
        var sample = new LoggedSample(features);
        var binary = true;
        double rewardSum = 0;
        long count = 0;
        // Only a logistic fit makes more passes; a ridge fit needs no cache.
        var cache = options.RewardModel == RewardModelKind.Ridge ? null : new RowCache(source.FeatureNames, options.CacheBytes);
        using (var reader = source.OpenReader())
        {
            while (reader.TryRead(sample))
            {
                if (options.RewardModel != RewardModelKind.Logistic)
                {
                    ridge[Fold(sample.RowIndex, options.Seed)].Add(sample);
                }

                binary &= sample.Reward is 0 or 1;
                rewardSum += sample.Reward;
                count++;
                if (cache is not null && (!binary || !cache.TryAdd(sample)))
                {
                    cache = null; // ridge after all, or over budget: the Newton passes will stream
                }
            }
        }

        var kind = options.RewardModel == RewardModelKind.Auto
            ? (binary ? RewardModelKind.Logistic : RewardModelKind.Ridge)
            : options.RewardModel;
        if (kind == RewardModelKind.Logistic && !binary)
        {
            throw new EvaluationInputException("The logistic reward model needs rewards of 0 or 1; use the ridge model.");
        }

        if (kind == RewardModelKind.Ridge || count == 0)
        {
            foreach (var model in ridge)
            {
                model.Fit();
            }

            return ridge;
        }

        var mean = rewardSum / count;
        var logistic = new[]
        {
            new LogisticRewardModel(features, options.Penalty ?? EvaluationOptions.DefaultLogisticPenalty, mean),
            new LogisticRewardModel(features, options.Penalty ?? EvaluationOptions.DefaultLogisticPenalty, mean),
        };
        // Newton needs a pass per iteration: over the cached rows when the log fitted under the cache limit.
        ILoggedBanditSource passes = (ILoggedBanditSource?)cache ?? source;
        for (var iteration = 0; iteration < options.MaxIterations; iteration++)
        {
            foreach (var model in logistic)
            {
                model.BeginIteration();
            }

            using (var reader = passes.OpenReader())
            {
                while (reader.TryRead(sample))
                {
                    logistic[Fold(sample.RowIndex, options.Seed)].Add(sample);
                }
            }

            // Both folds always step: `&` not `&&`.
            if (logistic[0].EndIteration() & logistic[1].EndIteration())
            {
                break;
            }
        }

        return logistic;
    }

    private static void Validate(LoggedSample sample)
    {
        if (!(sample.Propensity > 0 && sample.Propensity <= 1))
        {
            throw new EvaluationInputException(string.Create(CultureInfo.InvariantCulture,
                $"Row {sample.RowIndex}: propensity {sample.Propensity} is outside (0, 1]."));
        }
    }

    // Deterministic pseudo-random fold: logs are often ordered by time or position, so
    // alternating rows would correlate the folds with the data's order.
    private static int Fold(long rowIndex, ulong seed) =>
        (int)(SplitMix64.Mix(unchecked((ulong)rowIndex + seed + 0x9E3779B97F4A7C15UL)) & 1);

    /// <summary>One policy's cursor and its estimators (overall and per segment) during the scoring pass.</summary>
    private sealed class PolicyRun(TargetPolicy policy, IReadOnlyList<string> estimatorNames, bool bySegment)
    {
        private readonly Accumulators _all = new(estimatorNames);
        private readonly SortedDictionary<Segment, Accumulators>? _segments = bySegment ? [] : null;
        private readonly List<Segment> _keys = new(Segment.DimensionCount);

        public TargetPolicy Policy { get; } = policy;

        public IEstimator[] Estimators => _all.Estimators;

        public IPolicyCursor? Cursor { get; set; }

        public void Add(LoggedSample sample, IRewardModel? model, int modelIndex)
        {
            var cursor = Cursor!;
            cursor.MoveTo(sample);
            var target = cursor.Probability(sample.Action);
            var weight = target / sample.Propensity;
            _keys.Clear();
            if (_segments is not null)
            {
                Segment.Of(sample, _keys);
            }

            double direct = 0, predicted = 0;
            if (model is not null)
            {
                // Each row is scored by the model that did not train on it.
                predicted = Predict(model, sample, sample.Action);
                foreach (var (action, probability) in cursor.Distribution)
                {
                    direct += probability * Predict(model, sample, action);
                    if (_all.DirectMethod is not null && model.TryGetCell(sample.Group, action, sample.Position, out var cell))
                    {
                        _all.AddGradient(model, modelIndex, cell, sample, probability);
                        foreach (var key in _keys)
                        {
                            ForSegment(key).AddGradient(model, modelIndex, cell, sample, probability);
                        }
                    }
                }
            }

            var terms = new RowTerms(weight, target, sample.Propensity, sample.Reward, direct, predicted);
            _all.Add(terms);
            foreach (var key in _keys)
            {
                ForSegment(key).Add(terms);
            }
        }

        public EvaluationReport Report(IRewardModel[]? models, long rows, TimeSpan elapsed) =>
            new(_all.Results(models), rows, elapsed)
            {
                Segments = _segments is null
                    ? []
                    : [.. _segments.Select(kv => new SegmentReport(kv.Key, kv.Value.Rows, kv.Value.Results(models)))],
            };

        private Accumulators ForSegment(Segment key)
        {
            if (!_segments!.TryGetValue(key, out var accumulators))
            {
                _segments[key] = accumulators = new Accumulators(estimatorNames);
            }

            return accumulators;
        }

        private static double Predict(IRewardModel model, LoggedSample sample, int action) =>
            model.TryGetCell(sample.Group, action, sample.Position, out var cell) ? model.Predict(sample.Features, cell) : model.Fallback;
    }

    /// <summary>A set of estimators over some rows, with the DM gradients of those rows (the delta-method variance).</summary>
    private sealed class Accumulators
    {
        private readonly Dictionary<(int Model, int Cell), double[]> _gradients = [];

        public Accumulators(IReadOnlyList<string> names)
        {
            Estimators = [.. names.Select(Create)];
            DirectMethod = Estimators.OfType<DirectMethodEstimator>().FirstOrDefault();
        }

        public IEstimator[] Estimators { get; }

        // Read per row and action in the scoring pass: found once here, not by a LINQ scan each time.
        public DirectMethodEstimator? DirectMethod { get; }

        public long Rows { get; private set; }

        public void Add(in RowTerms terms)
        {
            foreach (var estimator in Estimators)
            {
                estimator.Add(terms);
            }

            Rows++;
        }

        public void AddGradient(IRewardModel model, int modelIndex, int cell, LoggedSample sample, double probability)
        {
            if (!_gradients.TryGetValue((modelIndex, cell), out var gradient))
            {
                _gradients[(modelIndex, cell)] = gradient = new double[model.Dimension];
            }

            model.AddPredictionGradient(sample.Features, cell, probability, gradient);
        }

        public EstimateResult[] Results(IRewardModel[]? models)
        {
            if (DirectMethod is { } dm && models is not null && Rows > 0)
            {
                // Delta method: DM = (1/n) Σ_cells (linear in each cell's β), so Var += Σ gᵀCov(β)g / n².
                var variance = _gradients.Sum(kv => models[kv.Key.Model].CoefficientVariance(kv.Key.Cell, kv.Value));
                dm.ModelVariance = variance / ((double)Rows * Rows);
            }

            return [.. Estimators.Select(e => e.Result())];
        }
    }
}
