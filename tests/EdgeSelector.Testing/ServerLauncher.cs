using System.Diagnostics;
using System.Net.Http;

namespace EdgeSelector.Testing;

/// <summary>
/// Starts the server's real entry point as a child process, <c>dotnet edgeselector.dll</c> from the test's output
/// directory (every project that references this one gets the dll copied beside it), for what an in-process host
/// cannot show: kill -9, SIGTERM, exit codes, restarts over the same data directory.
/// </summary>
internal static class ServerLauncher
{
    /// <summary>
    /// Starts the server with <paramref name="args"/> and <paramref name="environment"/> added to this process's
    /// environment; every line it writes to stdout or stderr goes to <paramref name="onLine"/> (from a pool thread).
    /// </summary>
    public static Process Start(IEnumerable<string> args, Action<string> onLine, IReadOnlyDictionary<string, string>? environment = null)
    {
        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(host) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "edgeselector.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("edgeselector did not start");
        process.OutputDataReceived += (_, e) => Forward(onLine, e.Data);
        process.ErrorDataReceived += (_, e) => Forward(onLine, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>
    /// Waits for GET /readyz to answer 200 through <paramref name="admin"/>; generous by default (180 s: a JIT start
    /// plus demo seeding on a loaded 2-core machine). Throws with the process's output when it exits or times out.
    /// </summary>
    public static async Task WaitReadyAsync(HttpClient admin, Process process, Func<string> output, TimeSpan? timeout = null)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < (timeout ?? TimeSpan.FromSeconds(180)))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the server exited with code {process.ExitCode}:\n{output()}");
            }

            try
            {
                using var response = await admin.GetAsync("/readyz");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // not listening yet
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"the server was not ready within the timeout:\n{output()}");
    }

    /// <summary>SIGKILL of the process and its children, then waits for the exit: no shutdown, no final checkpoint.</summary>
    public static void Kill9(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }

        process.WaitForExit(TimeSpan.FromSeconds(30));
    }

    /// <summary>SIGTERM: a graceful stop (does not wait for it).</summary>
    public static void Terminate(Process process)
    {
        using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    private static void Forward(Action<string> onLine, string? line)
    {
        if (line is not null)
        {
            onLine(line);
        }
    }
}
