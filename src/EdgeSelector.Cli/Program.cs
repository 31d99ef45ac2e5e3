using System.CommandLine;
using System.CommandLine.Invocation;
using EdgeSelector.Cli.Infrastructure;

namespace EdgeSelector.Cli;

/// <summary>Entry point of the <c>edgesel</c> command.</summary>
public static class Program
{
    /// <summary>Runs <c>edgesel</c> on the process's console.</summary>
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs <c>edgesel</c> with explicit output writers (what tests call); returns the exit code (<see cref="ExitCodes"/>).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        // Progress lines come from a timer thread while the command writes its own messages.
        stderr = TextWriter.Synchronized(stderr);
        var parse = Edgesel.Create().Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            return ParseErrors.Report(parse, stderr);
        }

        return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }
}
