using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;
using EdgeSelector.Learning.Join;
using EdgeSelector.Learning.Rollout;
using EdgeSelector.Learning.Training;

namespace EdgeSelector.Cli.Commands;

/// <summary>
/// <c>edgesel train --gate</c> (issue 15, docs/rollout.md "Offline gate"): before the run's bundle is written, a
/// copy of the models is trained on the run's examples minus a held-out share, and the incumbent (the newest bundle)
/// and that copy are valued on the held-out share by doubly robust and SNIPS. The bundle is written — and, with
/// <c>--server</c>, pushed as a <em>candidate</em> (PUT /v1/rollout/candidate) — only when every estimator's lower
/// bound for it is not below the incumbent's value by more than <c>--gate-margin</c>; otherwise nothing is written
/// or pushed and the command exits 3 with the reason. With <c>--nats</c> (<see cref="Fleet.FleetTrain"/>) a bundle that
/// passes is started as the fleet's candidate instead (<c>es_fleet/bundle.candidate</c>, as <c>edgesel rollout start</c>).
/// </summary>
internal sealed class TrainGate
{
    /// <summary>Exit code: trained, but the gate refused to publish (nothing written or pushed).</summary>
    public const int ExitRefused = 3;

    private static readonly string[] Policies = ["greedy", "epsilon-greedy", "softmax", "thompson", "ucb", "uniform"];

    private readonly Option<bool> _gate = new("--gate")
    {
        Description = "Offline gate (docs/rollout.md): value the new models against the newest bundle on held-out examples of this run "
            + "(dr and snips, 95% intervals); write the bundle only if, for both, its lower bound >= the incumbent's value - margin; else write nothing and exit 3",
    };

    private readonly Option<double> _holdout = SharedOptions.Range(new Option<double>("--gate-holdout")
    {
        Description = "With --gate: share of the run's examples held out to judge on (the bundle itself trains on all)",
        HelpName = "F",
        DefaultValueFactory = _ => 0.2,
    }, 0.01, 0.99);

    private readonly Option<double> _margin = SharedOptions.Range(new Option<double>("--gate-margin")
    {
        Description = "With --gate: allowed shortfall in take fraction",
        HelpName = "M",
        DefaultValueFactory = _ => 0.005,
    }, 0.0, 1.0);

    private readonly Option<string> _policy = new("--gate-policy")
    {
        Description = "With --gate: the serving policy both bundles are valued under: " + string.Join('|', Policies),
        HelpName = "POLICY",
        DefaultValueFactory = _ => "epsilon-greedy",
    };

    private readonly Option<double> _epsilon = SharedOptions.Range(new Option<double>("--gate-epsilon")
    {
        Description = "With --gate: the serving policy's epsilon",
        HelpName = "E",
        DefaultValueFactory = _ => 0.1,
    }, 0.0, 1.0);

    private readonly Option<string> _server = new("--server")
    {
        Description = "With --gate: push a bundle that passes as a candidate to these nodes' admin API (PUT /v1/rollout/candidate), never as active",
        HelpName = "URL[,URL...]",
    };

    private readonly Option<string> _tokenFile = SharedOptions.TokenFile();

    private readonly Option<double?> _fraction = new("--candidate-fraction")
    {
        Description = "With --server: share of members the candidate is served to (default: the node's Rollout:DefaultFraction); with --nats: on every node (default 0.05)",
        HelpName = "F",
    };

    /// <summary>Adds the gate's options to <c>edgesel train</c>; <c>--server</c> and its token do not go with <paramref name="nats"/>.</summary>
    public void AddTo(Command command, Option nats)
    {
        Fleet.FleetCli.NotWith(command, nats, "with --nats a bundle that passes the gate is started as the fleet's candidate (docs/rollout.md, \"Offline gate\")", _server, _tokenFile);
        command.Options.Add(_gate);
        command.Options.Add(_holdout);
        command.Options.Add(_margin);
        command.Options.Add(_policy);
        command.Options.Add(_epsilon);
        command.Options.Add(_server);
        command.Options.Add(_tokenFile);
        command.Options.Add(_fraction);
    }

    /// <summary><c>--candidate-fraction</c>, or null when it was not given.</summary>
    public double? CandidateFraction(ParseResult parse) => parse.GetValue(_fraction);

    /// <summary>True when <c>--gate</c> was given.</summary>
    public bool Enabled(ParseResult parse) => parse.GetValue(_gate);

    /// <summary>Judges the run's new models against the incumbent (before the real training run updates anything in place).</summary>
    public GateReport Judge(
        ParseResult parse, IReadOnlyDictionary<uint, TitleModel> current, ulong incumbentVersion, IReadOnlyList<LabeledExample> examples,
        CrossTitleModel crossTitle, ulong version, TrainerOptions trainer)
    {
        var options = new GateOptions
        {
            HoldoutFraction = parse.GetValue(_holdout),
            Margin = parse.GetValue(_margin),
            Serving = Serving(parse),
        };
        var (train, holdout) = OfflineGate.Split(examples, options);
        // Trainer.Train updates the cross-title component in place and may reuse image objects: the gate trains copies.
        var copies = current.ToDictionary(kv => kv.Key, kv => Clone(kv.Value));
        var (models, _) = Trainer.Train(copies, train, CrossTitleModel.FromJson(crossTitle.ToJson()), version, trainer);
        var incumbent = current.ToDictionary(kv => kv.Key, kv => kv.Value.Serialize(WeightPrecision.Int8));
        var candidate = models.ToDictionary(m => m.TitleId, m => m.Serialize(WeightPrecision.Int8));
        return OfflineGate.Decide(incumbent, incumbentVersion, candidate, version, holdout, train.Count, options);
    }

    /// <summary>With <c>--server</c>: pushes a bundle that passed as a candidate; the push's exit code (0 without <c>--server</c>).</summary>
    public int PushCandidate(ParseResult parse, string bundlePath, CliContext context)
    {
        if (parse.GetValue(_server) is not { } serverList)
        {
            return ExitCodes.Ok;
        }

        var servers = Servers.Parse(serverList);
        var token = Secrets.AdminToken(parse, _tokenFile);
        var endpoint = "/v1/rollout/candidate";
        if (parse.GetValue(_fraction) is { } fraction)
        {
            endpoint += "?fraction=" + fraction.ToString(CultureInfo.InvariantCulture); // the node refuses one outside [0, 1] (400)
        }

        var bytes = File.ReadAllBytes(bundlePath);
        return Servers.Each(servers, token, TimeSpan.FromMinutes(5), (http, cancellation) =>
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            return http.PutAsync(endpoint, content, cancellation);
        }, "candidate started", context);
    }

    private static TitleModel Clone(TitleModel model)
    {
        var blob = model.Serialize(WeightPrecision.Float32);
        ModelView.TryOpen(blob, ModelCheck.Structure, out var view, out _);
        return TitleModel.FromView(view);
    }

    private SelectionOptions Serving(ParseResult parse)
    {
        var options = new SelectionOptions
        {
            Policy = parse.GetValue(_policy) switch
            {
                "greedy" => PolicyKind.Greedy,
                "epsilon-greedy" => PolicyKind.EpsilonGreedy,
                "softmax" => PolicyKind.Softmax,
                "thompson" => PolicyKind.Thompson,
                "ucb" => PolicyKind.Ucb,
                "uniform" => PolicyKind.Uniform,
                var other => throw new UsageException($"--gate-policy must be one of {string.Join(", ", Policies)} (got '{other}')."),
            },
            Epsilon = (float)parse.GetValue(_epsilon),
        };
        try
        {
            return options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
