using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Fleet;
using EdgeSelector.Fleet.Bundles;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary>
/// <c>edgesel rollout</c>: a fleet's candidate bundle (docs/rollout.md, "Fleet"): start one on a fraction of members
/// on every node, show it and its decisions, promote or roll it back by hand. The automatic decision is
/// <c>edgesel train --nats</c>'s, on the fleet-wide counts.
/// </summary>
internal sealed class RolloutCommand : Command
{
    public RolloutCommand()
        : base("rollout", "A fleet's candidate bundle through NATS (docs/rollout.md): start it on a fraction of members, show it, promote or roll it back")
    {
        Subcommands.Add(new RolloutStartCommand());
        Subcommands.Add(new RolloutStatusCommand());
        Subcommands.Add(new RolloutDecideCommand(promote: true));
        Subcommands.Add(new RolloutDecideCommand(promote: false));
    }
}

/// <summary><c>edgesel rollout start --nats URL --bundle FILE [--fraction F]</c>.</summary>
internal sealed class RolloutStartCommand : CliCommand
{
    private readonly Option<string> _nats = SharedOptions.Nats("The fleet: the candidate goes to its Object Store and its candidate pointer (es_fleet/bundle.candidate)", required: true);
    private readonly Option<string> _bundle = new("--bundle") { Description = "The signed candidate bundle", HelpName = "FILE", Required = true };
    private readonly Option<string> _keyFile = SharedOptions.KeyFile();

    private readonly Option<double> _fraction = SharedOptions.Range(new Option<double>("--fraction")
    {
        Description = "Share of members served the candidate on every node, in [0, 1] (sticky by member id, the same on every node)",
        HelpName = "F",
        DefaultValueFactory = _ => FleetCandidate.DefaultFraction,
    }, 0.0, 1.0);

    public RolloutStartCommand()
        : base("start", "Try a signed bundle as the fleet's candidate on a fraction of members (checked: signature, every model, newer than the active bundle, same feature schema)")
    {
        Options.Add(_nats);
        Options.Add(_bundle);
        Options.Add(_keyFile);
        Options.Add(_fraction);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var fraction = parse.GetValue(_fraction);
        if (!double.IsFinite(fraction) || fraction is < 0 or > 1)
        {
            throw new CommandInputException(string.Create(CultureInfo.InvariantCulture, $"--fraction {fraction} is outside [0, 1]; nothing was published"));
        }

        var path = InputFiles.Require(parse.GetRequiredValue(_bundle), "--bundle");
        var bytes = File.ReadAllBytes(path);
        var key = Secrets.BundleKey(parse, _keyFile);
        var url = parse.GetRequiredValue(_nats);
        var candidate = FleetCandidate.Check(bytes, key, path); // before connecting: a bad file is refused without NATS
        var connection = FleetCli.Connect(url, "rollout", context.Cancellation);
        using var _ = FleetCli.AsDisposable(connection);
        var reason = $"candidate {candidate.Manifest.Version} for {fraction.ToString("0.####", CultureInfo.InvariantCulture)} of members";
        var pointer = FleetCandidate.Start(connection, candidate, bytes, key, fraction, reason, "operator", context.Cancellation);
        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{url}: candidate {pointer.Version} ({pointer.Object}) is tried on {pointer.Fraction:0.####} of members against active {pointer.ActiveVersion} on every node; edgesel train --nats decides it on the fleet's counts"));
        return ExitCodes.Ok;
    }
}

/// <summary>A signed bundle as the fleet's candidate: the checks every node makes again, made first, then the start.</summary>
internal static class FleetCandidate
{
    /// <summary>The share of members a candidate is tried on unless told otherwise.</summary>
    public const double DefaultFraction = 0.05;

    /// <summary>The bundle's manifest and per-title feature spaces; a <see cref="CommandInputException"/> when its signature or a model fails.</summary>
    public static (BundleManifest Manifest, Dictionary<uint, FeatureSpace> Spaces) Check(byte[] bytes, byte[] key, string name)
    {
        var error = ModelBundle.TryRead(bytes, key, out var manifest, out var models, out var detail);
        if (error != BundleError.None)
        {
            throw new CommandInputException($"{name}: {error}: {detail}; nothing was published");
        }

        var spaces = new Dictionary<uint, FeatureSpace>();
        foreach (var model in models)
        {
            if (!ModelView.TryOpen(model.Span, ModelCheck.Full, out var view, out var modelError))
            {
                throw new CommandInputException($"{name}: a model fails its check: {modelError}; nothing was published");
            }

            spaces[view.TitleId] = view.FeatureSpace;
        }

        return (manifest, spaces);
    }

    /// <summary>
    /// Starts <paramref name="candidate"/> (checked by <see cref="Check"/>) on <paramref name="fraction"/> of members on
    /// every node, after checking it against the fleet's active bundle (newer, same feature schema); the nodes check all
    /// of this again. A <see cref="CommandInputException"/> (nothing published) when it does not fit.
    /// </summary>
    public static CandidatePointer Start(
        FleetConnection connection, (BundleManifest Manifest, Dictionary<uint, FeatureSpace> Spaces) candidate, byte[] bytes, byte[] key,
        double fraction, string reason, string by, CancellationToken cancellation)
    {
        var channel = new CandidateChannel(connection);
        if (channel.Bundles.GetPointerAsync(cancellation).GetAwaiter().GetResult() is { } active)
        {
            if (candidate.Manifest.Version <= active.Version)
            {
                throw new CommandInputException($"candidate version {candidate.Manifest.Version} is not newer than the fleet's active version {active.Version}; nothing was published");
            }

            var activeBytes = channel.Bundles.DownloadAsync(active, cancellation).GetAwaiter().GetResult();
            var (_, activeSpaces) = Check(activeBytes, key, active.Object);
            if (SchemaProblem(candidate.Spaces, activeSpaces, active.Version) is { } problem)
            {
                throw new CommandInputException(problem + "; nothing was published");
            }
        }

        return channel.StartAsync(bytes, candidate.Manifest.Version, fraction, reason, by, cancellation).GetAwaiter().GetResult();
    }

    // Every candidate model must expect the vector the active bundle's model of its title expects (or, for a title the
    // active bundle lacks, its first title's): the nodes' serving encoder is shared by both arms.
    private static string? SchemaProblem(Dictionary<uint, FeatureSpace> candidate, Dictionary<uint, FeatureSpace> active, ulong activeVersion)
    {
        FeatureSpace? reference = active.Count > 0 ? active.OrderBy(p => p.Key).First().Value : null;
        foreach (var (title, space) in candidate)
        {
            var expected = active.TryGetValue(title, out var a) ? a : reference;
            if (expected is { } e && e != space)
            {
                return $"candidate title {title} has feature schema (schema {space.SchemaVersion}, d={space.Dimension}, seed=0x{space.HashSeed:X8}) but the active bundle {activeVersion} has (schema {e.SchemaVersion}, d={e.Dimension}, seed=0x{e.HashSeed:X8}): a candidate must use the active bundle's feature schema";
            }
        }

        return null;
    }
}

/// <summary><c>edgesel rollout status --nats URL [--json]</c>: the candidate pointer and its history (the fleet's decisions).</summary>
internal sealed class RolloutStatusCommand : CliCommand
{
    private readonly Option<string> _nats = SharedOptions.Nats("The fleet", required: true);
    private readonly Option<bool> _json = SharedOptions.Json("Print the candidate pointer's history as JSON (oldest first)");

    public RolloutStatusCommand()
        : base("status", "Show the fleet's candidate and every decision on it (the candidate pointer's history)")
    {
        Options.Add(_nats);
        Options.Add(_json);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var url = parse.GetRequiredValue(_nats);
        var connection = FleetCli.Connect(url, "rollout", context.Cancellation);
        using var _ = FleetCli.AsDisposable(connection);
        var history = new CandidateChannel(connection).HistoryAsync(context.Cancellation).GetAwaiter().GetResult();
        if (parse.GetValue(_json))
        {
            context.Out.WriteLine("[" + string.Join(",", history.Select(p => JsonSerializer.Serialize(p, FleetJsonContext.Default.CandidatePointer))) + "]");
            return ExitCodes.Ok;
        }

        if (history.Count == 0)
        {
            context.Out.WriteLine($"{url}: no candidate was ever tried in this fleet");
            return ExitCodes.Ok;
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var p in history)
        {
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(now - p.PointedAtMs) / 1000,6} s ago  candidate {p.Version} {p.State,-11} fraction {p.Fraction:0.####} active {p.ActiveVersion} by {p.By}: {p.Reason}"));
        }

        return ExitCodes.Ok;
    }
}

/// <summary><c>edgesel rollout promote|rollback --nats URL [--reason TEXT]</c>: an operator's decision, published to every node.</summary>
internal sealed class RolloutDecideCommand : CliCommand
{
    private readonly bool _promote;
    private readonly Option<string> _nats = SharedOptions.Nats("The fleet", required: true);
    private readonly Option<string> _reason = new("--reason") { Description = "Why (kept in the decision on every node)", HelpName = "TEXT" };

    public RolloutDecideCommand(bool promote)
        : base(promote ? "promote" : "rollback", promote
            ? "Make the fleet's candidate the active bundle on every node now"
            : "Withdraw the fleet's candidate on every node now (every member back on the active bundle)")
    {
        _promote = promote;
        Options.Add(_nats);
        Options.Add(_reason);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var url = parse.GetRequiredValue(_nats);
        var connection = FleetCli.Connect(url, "rollout", context.Cancellation);
        using var _ = FleetCli.AsDisposable(connection);
        var channel = new CandidateChannel(connection);
        var current = channel.GetAsync(context.Cancellation).GetAwaiter().GetResult();
        if (current is not { State: CandidatePointer.Running })
        {
            throw new CommandInputException(current is null ? "no candidate is being tried in the fleet" : $"candidate {current.Version} is already {current.State}");
        }

        var reason = parse.GetValue(_reason) is { Length: > 0 } r ? r : _promote ? "promoted by an operator" : "rolled back by an operator";
        var decided = channel.DecideAsync(current.Version, _promote, "operator", reason, cancellationToken: context.Cancellation).GetAwaiter().GetResult();
        context.Out.WriteLine($"{url}: candidate {decided.Version} {decided.State} on every node: {reason}");
        return ExitCodes.Ok;
    }
}
