using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using EdgeSelector.Client;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// The server as a child process (<c>dotnet edgeselector.dll</c> from the test's output), for what an in-process host
/// cannot show: kill -9, SIGTERM, exit codes, start-up on a small disk. 127.0.0.1 and free ports only; killed on dispose.
/// </summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ServerProcess(Process process, string dataDir, int binaryPort, int adminPort)
    {
        _process = process;
        DataDir = dataDir;
        BinaryPort = binaryPort;
        AdminPort = adminPort;
        _process.OutputDataReceived += (_, e) => Collect(e.Data);
        _process.ErrorDataReceived += (_, e) => Collect(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}"), Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LiveServer.Token);
    }

    public string DataDir { get; }

    public int BinaryPort { get; }

    public int AdminPort { get; }

    public HttpClient Http { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
    public string Output => string.Join("\n", _output);

    public static ServerProcess Start(string dataDir, params string[] extra)
    {
        var (binary, admin) = (FreePort(), FreePort());
        while (admin == binary)
        {
            admin = FreePort();
        }

        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(host) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "edgeselector.dll"));
        foreach (var arg in new[]
        {
            $"--EdgeSelector:BinaryPort={binary}", $"--EdgeSelector:AdminPort={admin}", $"--EdgeSelector:DataDir={dataDir}",
            $"--EdgeSelector:AdminToken={LiveServer.Token}", $"--EdgeSelector:BundleKey={LiveServer.BundleKey}",
            "--EdgeSelector:ModelMemoryMB=32", "--EdgeSelector:ProfileMemoryMB=32", "--EdgeSelector:ImpressionLogMemoryMB=8",
            "--EdgeSelector:DeadlineMs=1000", "--EdgeSelector:MaxQueueDelayMs=10000",
        }.Concat(extra))
        {
            start.ArgumentList.Add(arg);
        }

        return new ServerProcess(Process.Start(start)!, dataDir, binary, admin);
    }

    public EdgeSelectorClient Client() =>
        new(new EdgeSelectorClientOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, BinaryPort), RequestTimeout = TimeSpan.FromSeconds(30) });

    /// <summary>Waits for /readyz 200 (generous: a JIT start plus demo seeding on a loaded 2-core machine).</summary>
    public async Task WaitReadyAsync(TimeSpan? timeout = null)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < (timeout ?? TimeSpan.FromSeconds(180)))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the server exited with code {_process.ExitCode}:\n{Output}");
            }

            try
            {
                if ((await Http.GetAsync("/readyz")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"the server was not ready within the timeout:\n{Output}");
    }

    /// <summary>Waits for the process to exit; false if it is still running after <paramref name="timeout"/>.</summary>
    /// <summary>
    /// Waits for the process to exit and, once it has, for its redirected output to be read to the end (the timed
    /// <see cref="Process.WaitForExit(TimeSpan)"/> alone returns before the last lines arrive).
    /// </summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            return false;
        }

        _process.WaitForExit();
        return true;
    }

    /// <summary>SIGKILL: no shutdown, no final checkpoint or commit.</summary>
    public void Kill9()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>SIGTERM: a graceful stop.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public void Dispose()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    private void Collect(string? line)
    {
        if (line is not null && _output.Count < 10_000)
        {
            _output.Enqueue(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
