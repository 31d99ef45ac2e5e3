using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using EdgeSelector.Client;

namespace EdgeSelector.Testing;

/// <summary>
/// The server as a child process (<see cref="ServerLauncher"/>), for what an in-process host cannot show: kill -9,
/// SIGTERM, exit codes, start-up on a small disk. 127.0.0.1 and free ports only; killed on dispose.
/// </summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ServerProcess(string dataDir, int binaryPort, int adminPort, IEnumerable<string> args)
    {
        DataDir = dataDir;
        BinaryPort = binaryPort;
        AdminPort = adminPort;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}"), Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LiveServer.Token);
        _process = ServerLauncher.Start(args, Collect);
    }

    public string DataDir { get; }

    public int BinaryPort { get; }

    public int AdminPort { get; }

    public HttpClient Http { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
    public string Output => string.Join("\n", _output);

    /// <summary>Starts a node over <paramref name="dataDir"/> with the test defaults (<see cref="ServerArgs"/>) and <paramref name="extra"/> settings.</summary>
    public static ServerProcess Start(string dataDir, params string[] extra)
    {
        var (binary, admin) = (FreePorts.Next(), FreePorts.Next());
        return new ServerProcess(dataDir, binary, admin, [.. ServerArgs.WithSecrets(binary, admin, dataDir), .. extra]);
    }

    public EdgeSelectorClient Client() =>
        new(new EdgeSelectorClientOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, BinaryPort), RequestTimeout = TimeSpan.FromSeconds(30) });

    /// <summary>Waits for /readyz 200 (generous: a JIT start plus demo seeding on a loaded 2-core machine).</summary>
    public Task WaitReadyAsync(TimeSpan? timeout = null) => ServerLauncher.WaitReadyAsync(Http, _process, () => Output, timeout);

    /// <summary>
    /// Waits for the process to exit and, once it has, for its redirected output to be read to the end (the timed
    /// <see cref="Process.WaitForExit(TimeSpan)"/> alone returns before the last lines arrive); false if it is still
    /// running after <paramref name="timeout"/>.
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
    public void Kill9() => ServerLauncher.Kill9(_process);

    /// <summary>SIGTERM: a graceful stop.</summary>
    public void Terminate() => ServerLauncher.Terminate(_process);

    public void Dispose()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            ServerLauncher.Kill9(_process);
        }

        _process.Dispose();
    }

    private void Collect(string line)
    {
        if (_output.Count < 10_000)
        {
            _output.Enqueue(line);
        }
    }
}
