using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using EdgeSelector.Client;
using EdgeSelector.Server;
using EdgeSelector.Server.Hosting;
using Microsoft.AspNetCore.Builder;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// A real EdgeSelector node in this process: real Kestrel listeners on 127.0.0.1 ports of its own, real FASTER
/// stores in a directory of its own (deleted on dispose unless kept for a restart).
/// </summary>
internal sealed class LiveServer : IAsyncDisposable
{
    public const string Token = "integration-admin-token";
    public const string BundleKey = "integration-bundle-key";

    private readonly WebApplication _app;
    private readonly bool _keepData;

    private LiveServer(WebApplication app, EdgeSelectorNode node, string dataDir, int binaryPort, int adminPort, bool keepData)
    {
        _app = app;
        Node = node;
        DataDir = dataDir;
        BinaryPort = binaryPort;
        AdminPort = adminPort;
        _keepData = keepData;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}") };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        Anonymous = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}") };
    }

    /// <summary>The node's composed services and stores.</summary>
    public EdgeSelectorNode Node { get; }

    public string DataDir { get; }

    public int BinaryPort { get; }

    public int AdminPort { get; }

    /// <summary>An admin client with the bearer token.</summary>
    public HttpClient Http { get; }

    /// <summary>An admin client without a token.</summary>
    public HttpClient Anonymous { get; }

    public IPEndPoint BinaryEndPoint => new(IPAddress.Loopback, BinaryPort);

    public static async Task<LiveServer> StartAsync(string? dataDir = null, bool demo = true, bool keepData = false, params string[] extra)
    {
        dataDir ??= Path.Combine(Path.GetTempPath(), "es-it-" + Guid.NewGuid().ToString("N"));
        var binary = FreePort();
        var admin = FreePort();
        while (admin == binary)
        {
            admin = FreePort(); // the OS may hand the same ephemeral port out twice in a row
        }

        string[] args =
        [
            $"--EdgeSelector:BinaryPort={binary}",
            $"--EdgeSelector:AdminPort={admin}",
            $"--EdgeSelector:DataDir={dataDir}",
            $"--EdgeSelector:AdminToken={Token}",
            $"--EdgeSelector:BundleKey={BundleKey}",
            $"--EdgeSelector:Demo={demo}",
            "--EdgeSelector:ModelMemoryMB=32",
            "--EdgeSelector:ProfileMemoryMB=32",
            "--EdgeSelector:ImpressionLogMemoryMB=8",
            "--EdgeSelector:DeadlineMs=1000",
            "--EdgeSelector:MaxQueueDelayMs=10000",
            .. extra,
        ];
        var (app, node) = EdgeSelectorHost.Build(args);
        await app.StartAsync();
        return new LiveServer(app, node, dataDir, binary, admin, keepData);
    }

    public EdgeSelectorClient Client(int connections = 1) =>
        new(new EdgeSelectorClientOptions { EndPoint = BinaryEndPoint, ConnectionCount = connections, RequestTimeout = TimeSpan.FromSeconds(30) });

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Anonymous.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (!_keepData && Directory.Exists(DataDir))
        {
            Directory.Delete(DataDir, recursive: true);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
