using EdgeSelector.Cli.Commands;

namespace EdgeSelector.Cli;

/// <summary>Entry point of the <c>edgesel</c> command.</summary>
public static class Program
{
    /// <summary>Exit code for success.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code for bad input data, files or values (the message says which).</summary>
    public const int ExitInputError = 1;

    /// <summary>Exit code for a malformed command line.</summary>
    public const int ExitUsage = 2;

    // To add a sub-command: implement ICommand in Commands/ and list it here.
    private static readonly ICommand[] Commands =
    [
        new EvaluateCommand(),
        new SimulateCommand(),
        new BundleCommand(),
        new TrainCommand(),
        new PushCommand(),
        new RollbackCommand(),
        new ProfilesCommand(),
        new LearningCurveCommand(),
        new ReportCommand(),
        new Commands.Fleet.FleetCommand(),
    ];

    /// <summary>Dispatches to a sub-command.</summary>
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs <c>edgesel</c> with explicit output writers (what tests call).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count == 0 || args[0] is "help" or "--help" or "-h")
        {
            var helpFor = args.Count > 1 ? Commands.FirstOrDefault(c => c.Name == args[1]) : null;
            if (helpFor is not null)
            {
                stdout.WriteLine(helpFor.Usage);
                return ExitOk;
            }

            WriteUsage(args.Count == 0 ? stderr : stdout);
            return args.Count == 0 ? ExitUsage : ExitOk;
        }

        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            stderr.WriteLine($"edgesel: unknown command '{args[0]}'.");
            WriteUsage(stderr);
            return ExitUsage;
        }

        try
        {
            var parsed = CommandArgs.Parse(args.Skip(1).ToArray(), command.ValueOptions, command.Flags, command.MaxPositionals);
            return command.Run(parsed, stdout, stderr);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"edgesel {command.Name}: {e.Message}");
            stderr.WriteLine(command.Usage);
            return ExitUsage;
        }
    }

    private static void WriteUsage(TextWriter writer)
    {
        writer.WriteLine("usage: edgesel <command> [options]   (edgesel help <command> for its options)");
        foreach (var c in Commands)
        {
            writer.WriteLine($"  {c.Name,-12} {c.Summary}");
        }
    }
}
