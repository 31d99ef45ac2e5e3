using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using EdgeSelector.Client;
using EdgeSelector.Server;
using EdgeSelector.Server.Hosting;
using Microsoft.AspNetCore.Builder;

namespace EdgeSelector.Testing;

/// <summary>
/// A real EdgeSelector node in this process: real Kestrel listeners on 127.0.0.1 ports of its own, real FASTER
/// stores in a directory of its own (deleted on dispose unless kept for a restart).
/// </summary>
internal sealed class LiveServer : IAsyncDisposable
{
    public const string Token = ServerArgs.Token;
    public const string BundleKey = ServerArgs.BundleKey;

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
        BaseAddress = new Uri($"http://127.0.0.1:{adminPort}");
        Http = new HttpClient { BaseAddress = BaseAddress };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        Anonymous = new HttpClient { BaseAddress = BaseAddress };
    }

    /// <summary>The node's composed services and stores.</summary>
    public EdgeSelectorNode Node { get; }

    /// <summary>The ASP.NET Core host, for its services.</summary>
    public WebApplication App => _app;

    public string DataDir { get; }

    public int BinaryPort { get; }

    public int AdminPort { get; }

    /// <summary>The admin port's address.</summary>
    public Uri BaseAddress { get; }

    /// <summary>An admin client with the bearer token.</summary>
    public HttpClient Http { get; }

    /// <summary>An admin client without a token.</summary>
    public HttpClient Anonymous { get; }

    public IPEndPoint BinaryEndPoint => new(IPAddress.Loopback, BinaryPort);

    /// <summary>
    /// Starts a node over <paramref name="dataDir"/> (a fresh temp directory when null) with the test defaults
    /// (<see cref="ServerArgs"/>), the demo catalog unless <paramref name="demo"/> is false, and <paramref name="extra"/> settings.
    /// </summary>
    public static async Task<LiveServer> StartAsync(string? dataDir = null, bool demo = true, bool keepData = false, params string[] extra)
    {
        dataDir ??= Path.Combine(Path.GetTempPath(), "es-it-" + Guid.NewGuid().ToString("N"));
        var binary = FreePorts.Next();
        var admin = FreePorts.Next();
        string[] args = [.. ServerArgs.WithSecrets(binary, admin, dataDir), $"--EdgeSelector:Demo={demo}", .. extra];
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
}
