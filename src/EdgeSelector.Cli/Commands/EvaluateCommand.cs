using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Selection;
using EdgeSelector.Learning.Evaluation;
using EdgeSelector.Learning.Evaluation.Data;
using EdgeSelector.Learning.Evaluation.Estimators;
using EdgeSelector.Learning.Evaluation.Policies;
using EdgeSelector.Learning.Evaluation.RewardModels;
using EdgeSelector.Learning.Join;

namespace EdgeSelector.Cli.Commands;

/// <summary><c>edgesel evaluate</c>: off-policy estimates of a policy's value from a logged bandit dataset (docs/evaluation.md).</summary>
internal sealed class EvaluateCommand : ICommand
{
    public string Name => "evaluate";

    public string Summary => "estimate a policy's value from logged bandit data (ips, snips, dm, dr, replay)";

    public string Usage => """
        usage: edgesel evaluate --data PATH --format obd|impressions|csv --policy PATH
                                [--estimators ips,snips,dm,dr,replay] [--json]
                                [--engine-policy greedy|epsilon-greedy|softmax|thompson|ucb|uniform]
                                [--epsilon E] [--temperature T] [--alpha A]
                                [--rewards PATH] [--reward play|quality|minutes|fraction] [--min-minutes M] [--min-fraction F]
                                [--by-segment] [--reward-model auto|ridge|logistic] [--l2 LAMBDA] [--seed N]
          --data        obd: a campaign folder (random/men) or its rows CSV; csv: a logged-bandit CSV
                        (action, propensity, reward, optional position, x_* features); impressions: a record file
          --policy      item_id,position,probability (context-free), or one row per logged row with
                        probability (of the logged action) or p_<action> columns, or a directory of
                        title model blobs (*.esm) run through our engine (impressions only) with
                        --engine-policy (default epsilon-greedy) and its parameter
          --estimators  comma-separated; default: all that the policy supports
          --json        print one JSON object: {"<estimator>": {"value", "ci_low", "ci_high", "ess", "n", "warning"?}}
                        (replay adds "take_fraction": the share of rows kept)
          --rewards     impressions only: a record file of reward records to join by event id
          --reward      impressions only: play (started), quality (a quality play under the trainer's rule), minutes,
                        fraction; default play
          --min-minutes quality play: at least this many minutes (default 10, as edgesel train) ...
          --min-fraction ... or at least this fraction of the title (default 0.25, as edgesel train)
          --by-segment  impressions only: every estimator again within each segment (interacted yes/no, device,
                        country), each with its own interval
          --reward-model  dm/dr reward model: logistic for 0/1 rewards, ridge otherwise (default auto)
          --l2          L2 penalty of the reward model (default 1 for ridge, 0.01 for logistic)
          --seed        cross-fitting fold seed (default 0)
        exit codes: 0 ok, 1 bad input, 2 bad command line
        """;

    public IReadOnlySet<string> ValueOptions { get; } =
        new HashSet<string> { "data", "format", "policy", "estimators", "rewards", "reward", "reward-model", "l2", "seed",
            "engine-policy", "epsilon", "temperature", "alpha", "min-minutes", "min-fraction" };

    public IReadOnlySet<string> Flags { get; } = new HashSet<string> { "json", "by-segment" };

    public int Run(CommandArgs args, TextWriter stdout, TextWriter stderr)
    {
        var data = args.Require("data");
        var format = args.Require("format");
        var policyPath = args.Require("policy");
        var options = new EvaluationOptions
        {
            Penalty = args.Get("l2") is { } l2 ? ParseDouble(l2, "l2", positive: true) : null,
            RewardModel = args.Get("reward-model") switch
            {
                null or "auto" => RewardModelKind.Auto,
                "ridge" => RewardModelKind.Ridge,
                "logistic" => RewardModelKind.Logistic,
                var other => throw new UsageException($"--reward-model must be auto, ridge or logistic (got '{other}')."),
            },
            Seed = ulong.TryParse(args.Get("seed") ?? "0", CultureInfo.InvariantCulture, out var seed)
                ? seed
                : throw new UsageException("--seed must be a non-negative integer."),
            BySegment = args.Has("by-segment"),
        };

        // One quality-play rule with edgesel train's options and defaults (docs/learning.md section 3).
        var rule = new QualityPlayRule
        {
            MinMinutes = args.Get("min-minutes") is { } mm ? (float)ParseDouble(mm, "min-minutes", positive: false) : QualityPlayRule.DefaultMinMinutes,
            MinFraction = args.Get("min-fraction") is { } mf ? (float)ParseDouble(mf, "min-fraction", positive: false) : QualityPlayRule.DefaultMinFraction,
        };
        if (rule.MinMinutes < 0 || rule.MinFraction < 0)
        {
            throw new UsageException("--min-minutes and --min-fraction must be non-negative.");
        }

        if (format != "impressions" && new[] { "rewards", "reward", "min-minutes", "min-fraction", "by-segment" }.FirstOrDefault(o => args.Get(o) is not null || args.Has(o)) is { } impressionOption)
        {
            throw new UsageException($"--{impressionOption} applies to --format impressions only.");
        }

        if (!Directory.Exists(policyPath) && new[] { "engine-policy", "epsilon", "temperature", "alpha" }.FirstOrDefault(o => args.Get(o) is not null) is { } engineOption)
        {
            throw new UsageException($"--{engineOption} applies only when --policy is a directory of model blobs.");
        }

        try
        {
            if (format is "obd" or "csv" && !File.Exists(data) && !Directory.Exists(data))
            {
                throw new EvaluationInputException($"{data}: file not found.");
            }

            ILoggedBanditSource source = format switch
            {
                "obd" => new ObdSource(data),
                "csv" => new CsvBanditSource(data),
                "impressions" => new ImpressionLogSource(data, args.Get("rewards"), ParseReward(args.Get("reward") ?? "play"), rule),
                _ => throw new UsageException($"--format must be obd, impressions or csv (got '{format}')."),
            };
            var rewardDescription = (source as ImpressionLogSource)?.RewardDescription;
            var policy = Directory.Exists(policyPath)
                ? EnginePolicy.LoadDirectory(policyPath, EngineOptions(args))
                : PolicyFile.Load(policyPath);
            var estimators = ParseEstimators(args.Get("estimators"), policy);
            var report = OffPolicyEvaluator.Evaluate(source, policy, estimators, options);
            if (args.Has("json"))
            {
                stdout.WriteLine(ToJson(report, rewardDescription));
            }
            else
            {
                WriteTable(report, stdout, rewardDescription);
            }

            return Program.ExitOk;
        }
        catch (EvaluationInputException e)
        {
            stderr.WriteLine($"edgesel evaluate: {e.Message}");
            return Program.ExitInputError;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"edgesel evaluate: {e.Message}");
            return Program.ExitInputError;
        }
    }

    /// <summary>The JSON contract: one object keyed by estimator name (source-generation-free: Utf8JsonWriter).</summary>
    internal static string ToJson(EvaluationReport report, string? rewardDescription = null)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            json.WriteStartObject();
            for (var e = 0; e < report.Results.Count; e++)
            {
                var r = report.Results[e];
                json.WriteStartObject(r.Name);
                WriteEstimate(json, r);
                if (rewardDescription is not null)
                {
                    json.WriteString("reward", rewardDescription);
                }

                if (report.Segments.Count > 0)
                {
                    json.WriteStartArray("segments");
                    foreach (var s in report.Segments)
                    {
                        json.WriteStartObject();
                        json.WriteString("dimension", s.Dimension);
                        json.WriteString("segment", s.Value);
                        WriteEstimate(json, s.Results[e]);
                        json.WriteEndObject();
                    }

                    json.WriteEndArray();
                }

                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteEstimate(Utf8JsonWriter json, EstimateResult r)
    {
        WriteNumber(json, "value", r.Value);
        WriteNumber(json, "ci_low", r.CiLow);
        WriteNumber(json, "ci_high", r.CiHigh);
        WriteNumber(json, "ess", r.EffectiveSampleSize);
        json.WriteNumber("n", r.Rows);
        if (r.TakeFraction is { } take)
        {
            WriteNumber(json, "take_fraction", take);
        }

        if (r.Warning is not null)
        {
            json.WriteString("warning", r.Warning);
        }
    }

    // JSON has no NaN: an undefined estimate (no supporting rows) is null.
    private static void WriteNumber(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumber(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static void WriteTable(EvaluationReport report, TextWriter stdout, string? rewardDescription)
    {
        var inv = CultureInfo.InvariantCulture;
        if (rewardDescription is not null)
        {
            stdout.WriteLine("reward: " + rewardDescription);
        }

        stdout.WriteLine($"{"estimator",-9} {"value",12} {"95% CI",-27} {"ESS",12} {"rows",10}");
        foreach (var r in report.Results)
        {
            var ci = string.Create(inv, $"[{r.CiLow:0.000000}, {r.CiHigh:0.000000}]");
            stdout.WriteLine(string.Create(inv, $"{r.Name,-9} {r.Value,12:0.000000} {ci,-27} {r.EffectiveSampleSize,12:0.0} {r.Rows,10}"));
            if (r.TakeFraction is { } take)
            {
                stdout.WriteLine(string.Create(inv, $"  take fraction: {take:0.0000}"));
            }

            if (r.Warning is not null)
            {
                stdout.WriteLine($"  warning: {r.Warning}");
            }
        }

        if (report.Segments.Count > 0)
        {
            stdout.WriteLine($"{"segment",-22} {"estimator",-9} {"value",12} {"95% CI",-27} {"ESS",12} {"rows",10}");
            foreach (var s in report.Segments)
            {
                foreach (var r in s.Results)
                {
                    var ci = string.Create(inv, $"[{r.CiLow:0.000000}, {r.CiHigh:0.000000}]");
                    var name = s.Dimension + "=" + s.Value;
                    stdout.WriteLine(string.Create(inv, $"{name,-22} {r.Name,-9} {r.Value,12:0.000000} {ci,-27} {r.EffectiveSampleSize,12:0.0} {r.Rows,10}"));
                }
            }
        }

        stdout.WriteLine(string.Create(inv, $"{report.Rows} rows in {report.Elapsed.TotalMilliseconds:0} ms"));
    }

    private static string[] ParseEstimators(string? list, TargetPolicy policy)
    {
        if (list is null)
        {
            return policy.HasFullDistribution
                ? [.. OffPolicyEvaluator.AllEstimators]
                : [.. OffPolicyEvaluator.AllEstimators.Where(e => e is not "dm" and not "dr")];
        }

        var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0)
        {
            throw new UsageException("--estimators is empty.");
        }

        foreach (var name in names)
        {
            if (!OffPolicyEvaluator.AllEstimators.Contains(name))
            {
                throw new UsageException($"unknown estimator '{name}' (known: {string.Join(',', OffPolicyEvaluator.AllEstimators)}).");
            }
        }

        return names.Distinct().ToArray();
    }

    private static SelectionOptions EngineOptions(CommandArgs args)
    {
        var defaults = new SelectionOptions();
        var options = new SelectionOptions
        {
            Policy = (args.Get("engine-policy") ?? "epsilon-greedy") switch
            {
                "greedy" => PolicyKind.Greedy,
                "epsilon-greedy" => PolicyKind.EpsilonGreedy,
                "softmax" => PolicyKind.Softmax,
                "thompson" => PolicyKind.Thompson,
                "ucb" => PolicyKind.Ucb,
                "uniform" => PolicyKind.Uniform,
                var other => throw new UsageException($"--engine-policy must be greedy, epsilon-greedy, softmax, thompson, ucb or uniform (got '{other}')."),
            },
            Epsilon = args.Get("epsilon") is { } e ? (float)ParseDouble(e, "epsilon", positive: false) : defaults.Epsilon,
            Temperature = args.Get("temperature") is { } t ? (float)ParseDouble(t, "temperature", positive: true) : defaults.Temperature,
            UcbAlpha = args.Get("alpha") is { } a ? (float)ParseDouble(a, "alpha", positive: false) : defaults.UcbAlpha,
        };
        try
        {
            return options.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new UsageException(ex.Message);
        }
    }

    private static ImpressionReward ParseReward(string value) => value switch
    {
        "play" => ImpressionReward.Play,
        "minutes" => ImpressionReward.Minutes,
        "fraction" => ImpressionReward.Fraction,
        "quality" => ImpressionReward.Quality,
        _ => throw new UsageException($"--reward must be play, quality, minutes or fraction (got '{value}')."),
    };

    private static double ParseDouble(string value, string name, bool positive) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) && (!positive || d > 0)
            ? d
            : throw new UsageException($"--{name} must be a {(positive ? "positive " : string.Empty)}number (got '{value}').");
}
