using System.Globalization;
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
/// or pushed and the command exits 3 with the reason.
/// </summary>
internal static class TrainGate
{
    /// <summary>Exit code: trained, but the gate refused to publish.</summary>
    public const int ExitRefused = 3;

    /// <summary>The options the gate adds to <c>edgesel train</c>.</summary>
    public static readonly string[] ValueOptions = ["gate-holdout", "gate-margin", "gate-policy", "gate-epsilon", "server", "token-file", "candidate-fraction"];

    /// <summary>Usage lines for <c>edgesel train</c>.</summary>
    public const string Usage = """
          --gate          offline gate (docs/rollout.md): value the new models against the newest bundle on held-out
                          examples of this run (dr and snips, 95% intervals); write the bundle only if, for both, the
                          new lower bound >= incumbent value - margin; else write nothing and exit 3
          --gate-holdout  share of the run's examples held out to judge (default 0.2; the bundle itself trains on all)
          --gate-margin   allowed shortfall in take fraction (default 0.005)
          --gate-policy   the serving policy both are valued under: greedy|epsilon-greedy|softmax|thompson|ucb|uniform
                          (default epsilon-greedy) with --gate-epsilon E (default 0.1)
          --server        with --gate: push a bundle that passes as a candidate to these admin URLs
                          (PUT /v1/rollout/candidate; --candidate-fraction F of members, default the node's;
                          --token-file FILE or $EDGESEL_ADMIN_TOKEN)
        """;

    /// <summary>Judges the run's new models against the incumbent (before the real training run mutates anything).</summary>
    public static GateReport Judge(
        CommandArgs args, IReadOnlyDictionary<uint, TitleModel> current, ulong incumbentVersion, IReadOnlyList<LabeledExample> examples,
        CrossTitleModel crossTitle, ulong version, TrainerOptions trainer)
    {
        var options = new GateOptions
        {
            HoldoutFraction = Number(args, "gate-holdout", 0.2, 0.01, 0.99),
            Margin = Number(args, "gate-margin", 0.005, 0, 1),
            Serving = Serving(args),
        };
        var (train, holdout) = OfflineGate.Split(examples, options);
        // Trainer.Train updates the cross-title component in place and may reuse image objects: the gate trains copies.
        var copies = current.ToDictionary(kv => kv.Key, kv => Clone(kv.Value));
        var (models, _) = Trainer.Train(copies, train, CrossTitleModel.FromJson(crossTitle.ToJson()), version, trainer);
        var incumbent = current.ToDictionary(kv => kv.Key, kv => kv.Value.Serialize(WeightPrecision.Int8));
        var candidate = models.ToDictionary(m => m.TitleId, m => m.Serialize(WeightPrecision.Int8));
        return OfflineGate.Decide(incumbent, incumbentVersion, candidate, version, holdout, train.Count, options);
    }

    /// <summary>Pushes a bundle that passed as a candidate to every <c>--server</c>; the exit code of the push.</summary>
    public static int PushCandidate(CommandArgs args, string bundlePath, TextWriter stdout, TextWriter stderr)
    {
        var servers = Servers.Parse(args);
        var token = Secrets.AdminToken(args);
        var endpoint = "/v1/rollout/candidate";
        if (args.Get("candidate-fraction") is not null)
        {
            endpoint += "?fraction=" + Number(args, "candidate-fraction", 0, 0, 1).ToString(CultureInfo.InvariantCulture);
        }

        var bytes = File.ReadAllBytes(bundlePath);
        return Servers.Each(servers, token, TimeSpan.FromMinutes(5), http =>
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
            return http.PutAsync(endpoint, content);
        }, "candidate started", stdout, stderr);
    }

    private static TitleModel Clone(TitleModel model)
    {
        var blob = model.Serialize(WeightPrecision.Float32);
        ModelView.TryOpen(blob, ModelCheck.Structure, out var view, out _);
        return TitleModel.FromView(view);
    }

    private static SelectionOptions Serving(CommandArgs args)
    {
        var defaults = new SelectionOptions();
        var options = new SelectionOptions
        {
            Policy = (args.Get("gate-policy") ?? "epsilon-greedy") switch
            {
                "greedy" => PolicyKind.Greedy,
                "epsilon-greedy" => PolicyKind.EpsilonGreedy,
                "softmax" => PolicyKind.Softmax,
                "thompson" => PolicyKind.Thompson,
                "ucb" => PolicyKind.Ucb,
                "uniform" => PolicyKind.Uniform,
                var other => throw new UsageException($"--gate-policy must be greedy, epsilon-greedy, softmax, thompson, ucb or uniform (got '{other}')."),
            },
            Epsilon = (float)Number(args, "gate-epsilon", defaults.Epsilon, 0, 1),
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

    private static double Number(CommandArgs args, string name, double fallback, double min, double max)
    {
        if (args.Get(name) is not { } text)
        {
            return fallback;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
            ? v
            : throw new UsageException($"--{name} must be a number in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}] (got '{text}').");
    }
}
