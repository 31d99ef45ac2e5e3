using System.Buffers.Binary;
using System.CommandLine;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Fleet;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary>
/// What every <c>--nats URL</c> command shares: checking the URL list, connecting with a clear error, closing the
/// connection at the end of a synchronous command, and the rules that tie a fleet option to <c>--nats</c>.
/// </summary>
internal static class FleetCli
{
    /// <summary>How long a command waits for the first NATS server of the list to answer.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Connects to <paramref name="url"/> (after checking its form: a usage error, exit 2, names a part that is not a
    /// <c>nats://host:port</c> address) or throws a <see cref="FleetException"/> naming it (exit 1).
    /// </summary>
    public static FleetConnection Connect(string url, string client, CancellationToken cancellation)
    {
        CheckUrl(url);
        return FleetConnection.ConnectAsync(url, "edgesel-" + client, ConnectTimeout, FleetConnection.ToolRetryWait, Security(), cancellation).GetAwaiter().GetResult();
    }

    /// <summary>
    /// The NATS credentials and TLS files from the environment (docs/fleet.md, "Security"): <c>EDGESEL_NATS_CREDS</c>,
    /// <c>EDGESEL_NATS_TOKEN_FILE</c>, <c>EDGESEL_NATS_USER</c> with <c>EDGESEL_NATS_PASSWORD_FILE</c>,
    /// <c>EDGESEL_NATS_CA</c>, <c>EDGESEL_NATS_CERT</c> with <c>EDGESEL_NATS_KEY</c>. A problem is a
    /// <see cref="CommandInputException"/> naming the variable (exit 1).
    /// </summary>
    public static FleetSecurity Security()
    {
        var security = new FleetSecurity
        {
            CredsFile = Environment.GetEnvironmentVariable(SecurityEnvironment[nameof(FleetSecurity.CredsFile)]),
            TokenFile = Environment.GetEnvironmentVariable(SecurityEnvironment[nameof(FleetSecurity.TokenFile)]),
            User = Environment.GetEnvironmentVariable(SecurityEnvironment[nameof(FleetSecurity.User)]),
            PasswordFile = Environment.GetEnvironmentVariable(SecurityEnvironment[nameof(FleetSecurity.PasswordFile)]),
            TlsCaFile = Environment.GetEnvironmentVariable(SecurityEnvironment[nameof(FleetSecurity.TlsCaFile)]),
            TlsCertFile = Environment.GetEnvironmentVariable(SecurityEnvironment[nameof(FleetSecurity.TlsCertFile)]),
            TlsKeyFile = Environment.GetEnvironmentVariable(SecurityEnvironment[nameof(FleetSecurity.TlsKeyFile)]),
        };
        if (security.Check() is { } problem)
        {
            var variable = SecurityEnvironment[problem.Setting];
            var why = SecurityEnvironment.Aggregate(problem.Problem, (text, pair) => text.Replace(pair.Key, "$" + pair.Value, StringComparison.Ordinal));
            throw new CommandInputException($"${variable} {why}");
        }

        return security;
    }

    // The environment variable of each FleetSecurity setting (edgesel takes no secret, nor a secret's file, as an option).
    private static readonly Dictionary<string, string> SecurityEnvironment = new(StringComparer.Ordinal)
    {
        [nameof(FleetSecurity.CredsFile)] = "EDGESEL_NATS_CREDS",
        [nameof(FleetSecurity.TokenFile)] = "EDGESEL_NATS_TOKEN_FILE",
        [nameof(FleetSecurity.PasswordFile)] = "EDGESEL_NATS_PASSWORD_FILE",
        [nameof(FleetSecurity.User)] = "EDGESEL_NATS_USER",
        [nameof(FleetSecurity.TlsCaFile)] = "EDGESEL_NATS_CA",
        [nameof(FleetSecurity.TlsCertFile)] = "EDGESEL_NATS_CERT",
        [nameof(FleetSecurity.TlsKeyFile)] = "EDGESEL_NATS_KEY",
    };

    /// <summary>Disposes the connection synchronously at the end of a command.</summary>
    public static IDisposable AsDisposable(FleetConnection connection) => new Closer(connection);

    /// <summary>The version in a bundle's header (the nodes check the signature and the rest).</summary>
    public static ulong BundleVersion(ReadOnlySpan<byte> bundle, string path) =>
        bundle.Length >= 16 && BinaryPrimitives.ReadUInt32LittleEndian(bundle) == ModelBundle.Magic
            ? BinaryPrimitives.ReadUInt64LittleEndian(bundle[8..])
            : throw new CommandInputException($"{path}: not a model bundle (no ESB1 header)");

    /// <summary>A command that works on one node or on a fleet: exactly one of <paramref name="local"/> and <paramref name="nats"/>.</summary>
    public static void OneTarget(Command command, Option local, Option nats) => command.Validators.Add(r =>
    {
        if (Given(r.GetResult(local)) == Given(r.GetResult(nats)))
        {
            r.AddError($"give one of {local.Name} or {nats.Name}.");
        }
    });

    /// <summary>Options that mean something only with <paramref name="target"/> (a usage error otherwise, never silently ignored).</summary>
    public static void OnlyWith(Command command, Option target, params Option[] options) => command.Validators.Add(r =>
    {
        if (Given(r.GetResult(target)))
        {
            return;
        }

        foreach (var option in options.Where(o => Given(r.GetResult(o))))
        {
            r.AddError($"{option.Name} applies to {target.Name} only.");
        }
    });

    /// <summary>Options that do not apply with <paramref name="target"/> (a usage error naming <paramref name="why"/>, never silently ignored).</summary>
    public static void NotWith(Command command, Option target, string why, params Option[] options) => command.Validators.Add(r =>
    {
        if (!Given(r.GetResult(target)))
        {
            return;
        }

        foreach (var option in options.Where(o => Given(r.GetResult(o))))
        {
            r.AddError($"{option.Name} does not apply with {target.Name}: {why}.");
        }
    });

    // Typed on the command line (not only a default value).
    private static bool Given(System.CommandLine.Parsing.OptionResult? result) => result is { Implicit: false };

    // The client's own message for "http://host" or "host:4222" is an obscure connect failure: say what is expected.
    private static void CheckUrl(string url)
    {
        var parts = url.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            throw new UsageException("--nats needs at least one URL.");
        }

        foreach (var part in parts)
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || uri.Scheme is not ("nats" or "tls" or "ws" or "wss") || string.IsNullOrEmpty(uri.Host))
            {
                throw new UsageException($"--nats: '{part}' is not a nats://host:port address.");
            }
        }
    }

    private sealed class Closer(FleetConnection connection) : IDisposable
    {
        public void Dispose() => connection.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
