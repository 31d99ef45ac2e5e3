using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Selection;
using EdgeSelector.Learning.Evaluation;
using EdgeSelector.Learning.Evaluation.Data;
using EdgeSelector.Learning.Evaluation.Estimators;
using EdgeSelector.Learning.Evaluation.Policies;
using EdgeSelector.Learning.Evaluation.RewardModels;

namespace EdgeSelector.Cli.Commands;

/// <summary><c>edgesel evaluate</c>: off-policy estimates of a policy's value from a logged bandit dataset (docs/evaluation.md).</summary>
internal sealed class EvaluateCommand : CliCommand
{
    private readonly Option<string> _data = new("--data")
    {
        Description = "obd: a campaign folder (random/men) or its rows CSV; csv: a logged-bandit CSV (action, propensity, reward, optional position, x_* features); impressions: a record file",
        HelpName = "PATH",
        Required = true,
    };

    private readonly Option<string> _format = new("--format") { Description = "Format of --data", Required = true };

    private readonly Option<string> _policy = new("--policy")
    {
        Description = "item_id,position,probability (context-free, e.g. samples/obd-uniform.csv); or one row per logged row with probability "
            + "(of the logged action) or p_<action> columns; or a directory of title model blobs (*.esm) run through the engine "
            + "(impressions only) with --engine-policy and its parameter",
        HelpName = "PATH",
        Required = true,
    };

    private readonly Option<string> _estimators = new("--estimators")
    {
        Description = "Comma-separated estimators (ips, snips, dm, dr, replay); default: all that the policy supports",
        HelpName = "LIST",
    };

    private readonly Option<bool> _json = SharedOptions.Json(
        "Print one JSON object: {\"<estimator>\": {\"value\", \"ci_low\", \"ci_high\", \"ess\", \"n\", \"warning\"?}} (replay adds \"take_fraction\")");

    private readonly Option<string> _chart = new("--chart")
    {
        Description = "Also draw the estimates with their 95% intervals to this file (.png or .svg)",
        HelpName = "FILE",
    };

    private readonly Option<string> _enginePolicy = new("--engine-policy")
    {
        Description = "Policy of the engine when --policy is a directory of model blobs",
        DefaultValueFactory = _ => "epsilon-greedy",
    };

    private readonly Option<double> _epsilon = new("--epsilon") { Description = "ε of epsilon-greedy (engine policy)", HelpName = "E" };
    private readonly Option<double> _temperature = new("--temperature") { Description = "Softmax temperature (engine policy)", HelpName = "T" };
    private readonly Option<double> _alpha = new("--alpha") { Description = "UCB's α (engine policy)", HelpName = "A" };
    private readonly Option<string> _rewards = new("--rewards") { Description = "Impressions only: a record file of reward records to join by event id", HelpName = "PATH" };

    private readonly Option<string> _reward = new("--reward")
    {
        Description = "Impressions only: play (started), quality (fraction completed >= 0.5), minutes, fraction",
        DefaultValueFactory = _ => "play",
    };

    private readonly Option<string> _rewardModel = new("--reward-model")
    {
        Description = "Reward model of dm/dr: logistic for 0/1 rewards, ridge otherwise",
        DefaultValueFactory = _ => "auto",
    };

    private readonly Option<double> _l2 = SharedOptions.Positive(new Option<double>("--l2")
    {
        Description = "L2 penalty of the reward model (default 1 for ridge, 0.01 for logistic)",
        HelpName = "LAMBDA",
    });

    private readonly Option<ulong> _seed = new("--seed") { Description = "Cross-fitting fold seed", HelpName = "N", DefaultValueFactory = _ => 0 };

    public EvaluateCommand()
        : base("evaluate", "Estimate a policy's value from logged bandit data (ips, snips, dm, dr, replay) with 95% intervals")
    {
        _format.AcceptOnlyFromAmong("obd", "impressions", "csv");
        _enginePolicy.AcceptOnlyFromAmong("greedy", "epsilon-greedy", "softmax", "thompson", "ucb", "uniform");
        _reward.AcceptOnlyFromAmong("play", "quality", "minutes", "fraction");
        _rewardModel.AcceptOnlyFromAmong("auto", "ridge", "logistic");
        foreach (var option in new Option[] { _data, _format, _policy, _estimators, _json, _chart, _enginePolicy, _epsilon, _temperature, _alpha, _rewards, _reward, _rewardModel, _l2, _seed })
        {
            Options.Add(option);
        }
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var data = parse.GetRequiredValue(_data);
        var format = parse.GetRequiredValue(_format);
        var policyPath = parse.GetRequiredValue(_policy);
        var options = new EvaluationOptions
        {
            Penalty = parse.GetResult(_l2) is { Implicit: false } ? parse.GetValue(_l2) : null,
            RewardModel = parse.GetValue(_rewardModel) switch
            {
                "ridge" => RewardModelKind.Ridge,
                "logistic" => RewardModelKind.Logistic,
                _ => RewardModelKind.Auto,
            },
            Seed = parse.GetValue(_seed),
        };
        if (parse.GetValue(_rewards) is not null && format != "impressions")
        {
            throw new UsageException("--rewards applies to --format impressions only.");
        }

        if (!Directory.Exists(policyPath)
            && new Option[] { _epsilon, _temperature, _alpha, _enginePolicy }.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is { } engineOption)
        {
            throw new UsageException($"{engineOption.Name} applies only when --policy is a directory of model blobs.");
        }

        InputFiles.RequireFileOrDirectory(data, "--data");
        InputFiles.RequireFileOrDirectory(policyPath, "--policy");
        if (parse.GetValue(_rewards) is { } rewardsPath)
        {
            InputFiles.Require(rewardsPath, "--rewards");
        }

        ILoggedBanditSource source = format switch
        {
            "obd" => new ObdSource(data),
            "csv" => new CsvBanditSource(data),
            _ => new ImpressionLogSource(data, parse.GetValue(_rewards), ParseReward(parse.GetValue(_reward)!)),
        };
        var policy = Directory.Exists(policyPath)
            ? EnginePolicy.LoadDirectory(policyPath, EngineOptions(parse))
            : PolicyFile.Load(policyPath);
        var estimators = ParseEstimators(parse.GetValue(_estimators), policy);
        EvaluationReport report;
        using (context.Progress($"evaluating with {string.Join(", ", estimators)}"))
        {
            report = OffPolicyEvaluator.Evaluate(source, policy, estimators, options);
        }

        if (parse.GetValue(_json))
        {
            context.Out.WriteLine(ToJson(report));
        }
        else
        {
            WriteTable(report, context.Out);
        }

        if (parse.GetValue(_chart) is { } chart)
        {
            Charts.EvaluateChart.Save(report, Path.GetFileName(policyPath), chart);
            context.Message($"wrote {chart}");
        }

        return ExitCodes.Ok;
    }

    /// <summary>The JSON contract: one object keyed by estimator name (source-generation-free: Utf8JsonWriter).</summary>
    internal static string ToJson(EvaluationReport report)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            json.WriteStartObject();
            foreach (var r in report.Results)
            {
                json.WriteStartObject(r.Name);
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

                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
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

    private static void WriteTable(EvaluationReport report, TextWriter stdout)
    {
        var inv = CultureInfo.InvariantCulture;
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

    private SelectionOptions EngineOptions(ParseResult parse)
    {
        var defaults = new SelectionOptions();
        var options = new SelectionOptions
        {
            Policy = parse.GetValue(_enginePolicy) switch
            {
                "greedy" => PolicyKind.Greedy,
                "epsilon-greedy" => PolicyKind.EpsilonGreedy,
                "softmax" => PolicyKind.Softmax,
                "thompson" => PolicyKind.Thompson,
                "ucb" => PolicyKind.Ucb,
                "uniform" => PolicyKind.Uniform,
                _ => PolicyKind.Uniform,
            },
            Epsilon = parse.GetResult(_epsilon) is { Implicit: false } ? (float)parse.GetValue(_epsilon) : defaults.Epsilon,
            Temperature = parse.GetResult(_temperature) is { Implicit: false } ? (float)parse.GetValue(_temperature) : defaults.Temperature,
            UcbAlpha = parse.GetResult(_alpha) is { Implicit: false } ? (float)parse.GetValue(_alpha) : defaults.UcbAlpha,
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
        _ => ImpressionReward.Quality,
    };
}
