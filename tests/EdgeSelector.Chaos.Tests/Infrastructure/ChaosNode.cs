using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
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
    public Task WaitReadyAsync(TimeSpan? timeout = null) => ServerLauncher.WaitReadyAsync(Http, _process, () => Output, timeout);

    /// <summary>SIGKILL: no shutdown, no final checkpoint or commit.</summary>
    public void Kill9() => ServerLauncher.Kill9(_process);

    /// <summary>SIGTERM, then waits for the exit; false when the process is still running after <paramref name="timeout"/>.</summary>
    public bool Terminate(TimeSpan timeout)
    {
        ServerLauncher.Terminate(_process);
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
            ServerLauncher.Kill9(_process);
        }

        _process.Dispose();
    }

    // Secrets through the environment, as docs/security.md asks of operators: never in the process list.
    private Process Launch() => ServerLauncher.Start(
        [.. ServerArgs.Defaults(BinaryPort, AdminPort, DataDir), $"--EdgeSelector:RespPort={RespPort}", "--EdgeSelector:Demo=true", .. _extra],
        Collect,
        new Dictionary<string, string> { ["EdgeSelector__AdminToken"] = Token, ["EdgeSelector__BundleKey"] = BundleKey });

    private void Collect(string line)
    {
        _output.Enqueue(line);
        while (_output.Count > 2_000 && _output.TryDequeue(out _))
        {
        }
    }
}
