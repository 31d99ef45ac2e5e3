namespace EdgeSelector.Server.Health;

/// <summary>
/// Bounds shutdown whatever the disk does: armed when SIGTERM arrives, it ends the process with
/// <see cref="ExitCode"/> if the graceful stop (connections, then checkpoints and log commits) has not finished within
/// <c>EdgeSelector:ShutdownTimeoutSeconds</c>. What was durable is kept, as after a crash. Only the real process arms
/// it (Program), never the in-process test hosts.
/// </summary>
internal static class ShutdownWatchdog
{
    /// <summary>The exit code of a shutdown cut short by the watchdog.</summary>
    public const int ExitCode = 4;

    private static int _armed;

    /// <summary>Starts the countdown (once).</summary>
    public static void Arm(TimeSpan bound)
    {
        if (Interlocked.Exchange(ref _armed, 1) != 0)
        {
            return;
        }

        var thread = new Thread(() =>
        {
            Thread.Sleep(bound);
            Console.Error.WriteLine($"edgeselector: shutdown did not finish within {bound.TotalSeconds:F0} s (EdgeSelector:ShutdownTimeoutSeconds; the disk is full, failing or hung?); exiting, keeping what was durable");
            Environment.Exit(ExitCode);
        })
        {
            IsBackground = true,
            Name = "shutdown watchdog",
        };
        thread.Start();
    }
}
