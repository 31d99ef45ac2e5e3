using System.CommandLine;

namespace EdgeSelector.Cli.Infrastructure;

/// <summary>What a running command writes to and how it reports progress.</summary>
internal sealed class CliContext(string commandPath, TextWriter stdout, TextWriter stderr, bool quiet, CancellationToken cancellation)
{
    /// <summary>The command as typed, e.g. <c>edgesel profiles import</c>: the prefix of every message.</summary>
    public string CommandPath { get; } = commandPath;

    /// <summary>Results (what scripts read).</summary>
    public TextWriter Out { get; } = stdout;

    /// <summary>Messages, warnings and progress.</summary>
    public TextWriter Err { get; } = stderr;

    /// <summary>Ctrl+C or SIGTERM.</summary>
    public CancellationToken Cancellation { get; } = cancellation;

    /// <summary>Writes <c>edgesel X: message</c> to stderr.</summary>
    public void Message(string message) => Err.WriteLine($"{CommandPath}: {message}");

    /// <summary>
    /// Starts a progress report on stderr for a step that may take more than a few seconds: a line now, then one
    /// every few seconds with the elapsed time until disposed (silent with <c>--quiet</c>).
    /// </summary>
    public Progress Progress(string step) => new(this, step, quiet);

    /// <summary>Builds the context of a parsed command line.</summary>
    public static CliContext From(ParseResult parse, CancellationToken cancellation)
    {
        var config = parse.InvocationConfiguration;
        return new CliContext(ParseErrors.CommandPath(parse), config.Output, config.Error, parse.GetValue(SharedOptions.Quiet), cancellation);
    }
}
