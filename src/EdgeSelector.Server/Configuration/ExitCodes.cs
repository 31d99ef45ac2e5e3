namespace EdgeSelector.Server.Configuration;

/// <summary>
/// The exit codes of the <c>edgeselector</c> process: the one table is in docs/operations.md ("Exit codes"), which
/// <c>--help</c> repeats. A configuration or resource mistake always ends with one line on stderr and one of these.
/// </summary>
internal static class ExitCodes
{
    /// <summary>Stopped cleanly (SIGTERM or Ctrl+C), or <c>--help</c> / <c>--version</c>.</summary>
    public const int Ok = 0;

    /// <summary>An unexpected error: a bug; the exception and its stack trace are on stderr.</summary>
    public const int Failed = 1;

    /// <summary>A configuration mistake: unknown argument or key (with the closest valid name), a bad or out-of-range value.</summary>
    public const int Configuration = 2;

    /// <summary>The data directory cannot be used: not writable, too little disk, damaged files under <c>OnDamage=Refuse</c>.</summary>
    public const int StartRefused = 3;

    /// <summary>Shutdown did not finish within <c>ShutdownTimeoutSeconds</c>; what was durable is kept.</summary>
    public const int ShutdownTimeout = 4;

    /// <summary>A listener could not be opened: the port is in use, needs privileges, or the address is not this host's.</summary>
    public const int Listen = 5;
}

/// <summary>
/// The node cannot start as configured: <c>Program</c> prints <see cref="Exception.Message"/> as one line on stderr and
/// exits with <see cref="ExitCode"/> (never a stack trace for a configuration or resource mistake).
/// </summary>
internal sealed class StartupException(int exitCode, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The process exit code (<see cref="ExitCodes"/>).</summary>
    public int ExitCode { get; } = exitCode;

    /// <summary>A configuration mistake (exit code 2).</summary>
    public static StartupException Configuration(string message) => new(ExitCodes.Configuration, $"configuration error: {message}");
}
