using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace EdgeSelector.Server.Configuration;

/// <summary>What the command line asks for.</summary>
internal enum CommandLineAction
{
    /// <summary>Start the node.</summary>
    Run,

    /// <summary>Print the keys and exit.</summary>
    Help,

    /// <summary>Print the version and exit.</summary>
    Version,
}

/// <summary>
/// The server's command line: <c>--help</c>, <c>--version</c> and configuration keys (<c>--EdgeSelector:Key=value</c>,
/// or <c>--EdgeSelector:Key value</c>). The ASP.NET Core command-line provider silently ignores what it cannot read
/// (a bare word, <c>-x</c>, a trailing <c>--key</c> with no value) and a key outside the sections the node reads
/// (<c>--Demo=true</c>); here each of those is a configuration error naming the argument (docs/operations.md).
/// </summary>
internal static class ServerCommandLine
{
    // Top-level sections a command line may set besides EdgeSelector: logging, and the generic host's own keys.
    private static readonly string[] OtherSections = ["Logging", "environment", "contentRoot", "applicationName"];

    /// <summary>What <paramref name="args"/> ask for; throws <see cref="StartupException"/> (exit code 2) on a bad argument.</summary>
    public static CommandLineAction Parse(string[] args)
    {
        if (args.Any(a => a is "--help" or "-h" or "-?" or "/?" or "/help"))
        {
            return CommandLineAction.Help;
        }

        if (args.Any(a => a is "--version"))
        {
            return CommandLineAction.Version;
        }

        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            var prefix = arg.StartsWith("--", StringComparison.Ordinal) ? 2 : arg.StartsWith('/') ? 1 : arg.StartsWith('-') ? -1 : 0;
            var separator = arg.IndexOf('=', StringComparison.Ordinal);
            if (prefix < 0 || (prefix == 0 && separator < 0))
            {
                throw StartupException.Configuration(
                    $"unexpected argument '{arg}': the server takes --help, --version and --EdgeSelector:Key=value (edgeselector --help lists every key)");
            }

            var key = separator < 0 ? arg[prefix..] : arg[prefix..separator];
            if (separator < 0 && (++i >= args.Length || args[i].StartsWith("--", StringComparison.Ordinal)))
            {
                throw StartupException.Configuration($"{arg} has no value: write {arg}=value");
            }

            CheckSection(arg, key);
        }

        return CommandLineAction.Run;
    }

    /// <summary>The <c>--help</c> text: usage, every key with its type and default (from the options types), exit codes.</summary>
    public static string Help()
    {
        var sb = new StringBuilder();
        sb.Append(VersionLine()).Append(" - the EdgeSelector edge server (binary protocol, RESP, admin HTTP API)\n\n");
        sb.Append("Usage: edgeselector [--EdgeSelector:Key=value ...]\n");
        sb.Append("       edgeselector --help | --version\n\n");
        sb.Append("Each key can be set in appsettings.json (working directory), as an environment variable\n");
        sb.Append("(EdgeSelector__Key, EdgeSelector__Nats__Url) or on the command line; later sources win in that order.\n");
        sb.Append("An unknown key or a bad value stops the server before it opens anything (exit code 2).\n");
        sb.Append("Secrets (AdminToken, BundleKey, event keys) belong in the environment or a file, not on the command line.\n\n");
        sb.Append("Keys (type, default):\n");
        var width = ConfigurationKeys.All.Max(k => k.Path.Length) + 2;
        var kindWidth = Math.Min(24, ConfigurationKeys.All.Max(k => k.Kind.Length) + 2);
        foreach (var key in ConfigurationKeys.All)
        {
            sb.Append("  --").Append(key.Path.PadRight(width)).Append(key.Kind.PadRight(kindWidth)).Append(' ')
              .Append(key.Default.Length == 0 ? "(empty)" : key.Default).Append('\n');
        }

        sb.Append("\nLogging: --Logging:LogLevel:Default=Information, --Logging:Console:FormatterName=json (one JSON object per line).\n");
        sb.Append($"Exit codes: {ExitCodes.Ok} stopped cleanly, {ExitCodes.Failed} unexpected error, {ExitCodes.Configuration} configuration error, ");
        sb.Append($"{ExitCodes.StartRefused} data directory unusable,\n            {ExitCodes.ShutdownTimeout} shutdown timed out, {ExitCodes.Listen} a port could not be opened.\n");
        sb.Append("Every key explained: docs/operations.md; the admin API: GET /openapi.json on the admin port.\n");
        return sb.ToString();
    }

    /// <summary>The <c>--version</c> line: version (with the commit it was built from), runtime and platform.</summary>
    public static string VersionLine()
    {
        var version = typeof(ServerCommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        return $"edgeselector {version} (.NET {Environment.Version}, {RuntimeInformation.RuntimeIdentifier})";
    }

    private static void CheckSection(string arg, string key)
    {
        var section = key.Split(':')[0];
        if (section.Equals(EdgeSelectorOptions.Section, StringComparison.OrdinalIgnoreCase)
            || OtherSections.Contains(section, StringComparer.OrdinalIgnoreCase))
        {
            return; // EdgeSelector keys are checked with every other source once configuration is read
        }

        // "--Demo=true", "--EdgeSelectr:Demo=true": the closest key, with or without the section name typed.
        var closest = ConfigurationKeys.Closest($"{EdgeSelectorOptions.Section}:{key}") ?? ConfigurationKeys.Closest(key);
        throw StartupException.Configuration(
            $"unknown argument '{arg}': " +
            (closest is null ? "keys are --EdgeSelector:Key=value (edgeselector --help lists every key)" : $"did you mean --{closest.Path}?"));
    }
}
