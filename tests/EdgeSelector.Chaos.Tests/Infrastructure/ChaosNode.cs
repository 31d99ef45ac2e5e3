using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using EdgeSelector.Client;

namespace EdgeSelector.Chaos.Tests.Infrastructure;

/// <summary>
/// The server as a child process (<c>dotnet edgeselector.dll</c> from the test's output directory), for what an
/// in-process host cannot show: kill -9, restarts over the same data directory, a peer that is a separate process.
/// 127.0.0.1 and free ports only; the ports are kept across restarts; killed on dispose.
/// </summary>
internal sealed class ChaosNode : IDisposable
{
    public const string Token = "chaos-admin-token";
    public const string BundleKey = "chaos-bundle-key";

    private readonly ConcurrentQueue<string> _output = new();
    private readonly string[] _extra;
    private Process _process;

    private ChaosNode(string dataDir, string[] extra)
    {
        DataDir = dataDir;
        _extra = extra;
        BinaryPort = FreePorts.Next();
        AdminPort = FreePorts.Next();
        RespPort = FreePorts.Next();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{AdminPort}"), Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        _process = Launch();
    }

    public string DataDir { get; }

    public int BinaryPort { get; }

    public int AdminPort { get; }

    public int RespPort { get; }

    /// <summary>An admin client with the bearer token (the same across restarts).</summary>
    public HttpClient Http { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public int ProcessId => _process.Id;

    /// <summary>The last lines the process wrote to stdout and stderr (all its starts).</summary>
    public string Output => string.Join("\n", _output);

    /// <summary>Starts a node over <paramref name="dataDir"/> with the chaos defaults and <paramref name="extra"/> settings.</summary>
    public static ChaosNode Start(string dataDir, params string[] extra) => new(dataDir, extra);

    public EdgeSelectorClient Client(int connections = 1) =>
        new(new EdgeSelectorClientOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, BinaryPort), ConnectionCount = connections, RequestTimeout = TimeSpan.FromSeconds(30) });

    /// <summary>Waits for /readyz 200: generous (180 s), a JIT start plus demo seeding on a loaded 2-core machine.</summary>
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
                using var response = await Http.GetAsync("/readyz");
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

        throw new TimeoutException($"the server was not ready within the timeout:\n{Output}");
    }

    /// <summary>SIGKILL: no shutdown, no final checkpoint or commit.</summary>
    public void Kill9()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>SIGTERM, then waits for the exit; false when the process is still running after <paramref name="timeout"/>.</summary>
    public bool Terminate(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }

        return _process.WaitForExit(timeout);
    }

    /// <summary>Starts the server again over the same data directory and ports (after a kill or a stop).</summary>
    public void Restart()
    {
        if (!_process.HasExited)
        {
            throw new InvalidOperationException("the server is still running");
        }

        _process.Dispose();
        _output.Enqueue("---- restart ----");
        _process = Launch();
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

    private Process Launch()
    {
        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(host) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "edgeselector.dll"));
        // Secrets through the environment, as docs/security.md asks of operators: never in the process list.
        start.Environment["EdgeSelector__AdminToken"] = Token;
        start.Environment["EdgeSelector__BundleKey"] = BundleKey;
        foreach (var arg in new[]
        {
            $"--EdgeSelector:BinaryPort={BinaryPort}", $"--EdgeSelector:AdminPort={AdminPort}", $"--EdgeSelector:RespPort={RespPort}",
            $"--EdgeSelector:DataDir={DataDir}", "--EdgeSelector:Demo=true",
            "--EdgeSelector:ModelMemoryMB=32", "--EdgeSelector:ProfileMemoryMB=32", "--EdgeSelector:ImpressionLogMemoryMB=8",
            "--EdgeSelector:DeadlineMs=1000", "--EdgeSelector:MaxQueueDelayMs=10000",
        }.Concat(_extra))
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => Collect(e.Data);
        process.ErrorDataReceived += (_, e) => Collect(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Collect(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 2_000 && _output.TryDequeue(out _))
        {
        }
    }
}

/// <summary>Free loopback ports, never the same one twice in this process (a port freed by one test is not reused by the next).</summary>
internal static class FreePorts
{
    private static readonly ConcurrentDictionary<int, byte> Given = new();

    public static int Next()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (Given.TryAdd(port, 0))
            {
                return port;
            }
        }

        throw new InvalidOperationException("no free loopback port in 100 attempts");
    }
}

/// <summary>A directory of its own under the temp directory, removed on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir(string prefix)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
