using System.CommandLine;
using System.CommandLine.Help;
using EdgeSelector.Cli.Commands;
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
        var root = new RootCommand("edgesel: bundles, training, deployment, evaluation and reports for EdgeSelector nodes (docs/cli.md)")
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
            new CompletionCommand(),
        };

        // -h/--help only: System.CommandLine's default also takes -? /? /h, which then show up in every completion list.
        for (var i = 0; i < root.Options.Count; i++)
        {
            if (root.Options[i] is HelpOption)
            {
                root.Options[i] = new HelpOption("--help", "-h");
            }
        }

        root.Options.Add(SharedOptions.Quiet);
        return root;
    }
}
