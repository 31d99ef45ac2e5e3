using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Reflection;
using EdgeSelector.Cli.Commands;
using EdgeSelector.Cli.Commands.Fleet;
using EdgeSelector.Cli.Infrastructure;

namespace EdgeSelector.Cli;

/// <summary>The <c>edgesel</c> command tree.</summary>
internal static class Edgesel
{
    /// <summary>The command's name, as installed (<c>ToolCommandName</c>) and as messages start.</summary>
    public const string Name = "edgesel";

    /// <summary>
    /// Builds the tree. To add a command: a class deriving from <see cref="CliCommand"/> in Commands/ (one file each,
    /// shared options from <see cref="SharedOptions"/>), listed here, and a section in docs/cli.md.
    /// </summary>
    public static RootCommand Create()
    {
        var root = new RootCommand("edgesel: bundles, training, deployment, evaluation and reports for EdgeSelector nodes and fleets (docs/cli.md)")
        {
            new BundleCommand(),
            new PushCommand(),
            new RollbackCommand(),
            new ProfilesCommand(),
            new TrainCommand(),
            new EvaluateCommand(),
            new SimulateCommand(),
            new LearningCurveCommand(),
            new ReportCommand(),
            new FleetCommand(),
            new RolloutCommand(),
            new CompletionCommand(),
        };

        // The usage lines say edgesel, not the host's name (testhost, dotnet) when run in-process or through dotnet.
        root.HelpName = Name;
        for (var i = 0; i < root.Options.Count; i++)
        {
            switch (root.Options[i])
            {
                // -h/--help only: System.CommandLine's default also takes -? /? /h, which then show up in every completion list.
                case HelpOption:
                    root.Options[i] = new HelpOption("--help", "-h");
                    break;

                // This assembly's version, whoever hosts it (the default prints the entry assembly's).
                case VersionOption version:
                    version.Action = new PrintVersion();
                    break;
            }
        }

        root.Options.Add(SharedOptions.Quiet);
        return root;
    }

    /// <summary>The version <c>--version</c> prints: the package version and the commit it was built from.</summary>
    public static string Version =>
        typeof(Edgesel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(Edgesel).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    private sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(Version);
            return ExitCodes.Ok;
        }
    }
}
