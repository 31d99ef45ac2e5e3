using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EdgeSelector.Client;

namespace EdgeSelector.Fleet.Tests;

/// <summary>
/// An edge node as a real process (<c>dotnet edgeselector.dll</c> from this test's output directory) in a fleet: its own
/// ports and data directory; <see cref="Kill9"/> is SIGKILL, <see cref="Start"/> again keeps the data directory.
/// </summary>
internal sealed class EdgeNode : IAsyncDisposable
{
    public const string Token = "fleet-admin-token";
    public const string BundleKey = "fleet-bundle-key";

    /// <summary>The fleet's event-tag secret (every node must share it: a reward may reach another node than its impression).</summary>
    public const string EventKey = "fleet-event-tag-secret-for-the-cluster-tests";

    private readonly string[] _extra;
    private Process? _process;
    private StreamWriter? _log;

    public EdgeNode(int nodeId, string natsUrl, string root, params string[] extra)
    {
        NodeId = nodeId;
        NatsUrl = natsUrl;
        DataDir = Path.Combine(root, string.Create(CultureInfo.InvariantCulture, $"node{nodeId}"));
        BinaryPort = FreePorts.Next();
        AdminPort = FreePorts.Next();
        _extra = extra;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{AdminPort}"), Timeout = TimeSpan.FromSeconds(10) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
    }

    public int NodeId { get; }

    public string NatsUrl { get; }

    public string DataDir { get; }

    public int BinaryPort { get; }

    public int AdminPort { get; }

    public HttpClient Http { get; }

    public string LogPath => DataDir + ".log";

    public bool Running => _process is { HasExited: false };

    public EdgeSelectorClient Client() =>
        new(new EdgeSelectorClientOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, BinaryPort), RequestTimeout = TimeSpan.FromSeconds(20) });

    public void Start()
    {
        // Secrets through the environment, as docs/protocol.md advises (not on the command line); the rest after the
        // shared defaults, which they override (smaller stores: a fleet test runs several nodes).
        _log = new StreamWriter(LogPath, append: true, Encoding.UTF8) { AutoFlush = true };
        var log = _log;
        _process = ServerLauncher.Start(
        [
            .. ServerArgs.WithSecrets(BinaryPort, AdminPort, DataDir, Token, BundleKey),
            string.Create(CultureInfo.InvariantCulture, $"--EdgeSelector:NodeId={NodeId}"),
            $"--EdgeSelector:Nats:Url={NatsUrl}", "--EdgeSelector:Nats:HeartbeatSeconds=1",
            "--EdgeSelector:ModelMemoryMB=16", "--EdgeSelector:ProfileMemoryMB=16", "--EdgeSelector:LogCommitIntervalMs=2",
            .. _extra,
        ],
            line => Write(log, line),
            new Dictionary<string, string> { ["EdgeSelector__EventKey"] = EventKey });
    }

    /// <summary>SIGKILL: no shutdown, no final commit.</summary>
    public void Kill9()
    {
        if (_process is { } p)
        {
            ServerLauncher.Kill9(p);
            p.Dispose();
            _process = null;
        }
    }

    /// <summary>GET of an admin path: status and body, or (0, "") while the node does not answer.</summary>
    public async Task<(HttpStatusCode Status, string Body)> GetAsync(string path)
    {
        try
        {
            using var response = await Http.GetAsync(path);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (0, string.Empty);
        }
    }

    /// <summary>The value of a metric line (exact name and labels), or -1 when absent.</summary>
    public async Task<double> MetricAsync(string nameAndLabels)
    {
        var (status, body) = await GetAsync("/metrics");
        if (status != HttpStatusCode.OK)
        {
            return -1;
        }

        foreach (var line in body.Split('\n'))
        {
            if (line.StartsWith(nameAndLabels + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(nameAndLabels.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return -1;
    }

    public string Log() => File.Exists(LogPath) ? File.ReadAllText(LogPath) : string.Empty;

    public ValueTask DisposeAsync()
    {
        Kill9();
        Http.Dispose();
        _log?.Dispose();
        return ValueTask.CompletedTask;
    }

    private static void Write(StreamWriter log, string line)
    {
        lock (log)
        {
            try
            {
                log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // The test is over.
            }
        }
    }
}
