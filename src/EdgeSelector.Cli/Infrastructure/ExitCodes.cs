namespace EdgeSelector.Cli.Infrastructure;

/// <summary>The exit codes of every <c>edgesel</c> command (docs/cli.md, "Exit codes").</summary>
public static class ExitCodes
{
    /// <summary>The operation succeeded.</summary>
    public const int Ok = 0;

    /// <summary>
    /// The operation failed: bad or missing input files, a damaged log, a server that refused or could not be reached.
    /// The message on stderr says which file, server or value.
    /// </summary>
    public const int Failed = 1;

    /// <summary>A malformed command line: unknown command or option (with a suggestion), missing or invalid value.</summary>
    public const int Usage = 2;
}

/// <summary>A malformed command line found while running a command: printed with a pointer to its help, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Bad input data, a missing file or a refusal: printed, exit code 1.</summary>
internal sealed class CommandInputException(string message, Exception? inner = null) : Exception(message, inner);
