using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using EdgeSelector.Client;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Protocol;
using EdgeSelector.Server;
using EdgeSelector.Server.Dashboard;
using EdgeSelector.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeSelector.Dashboard.Tests;

/// <summary>
/// A real node in this process for the dashboard tests: Kestrel on free 127.0.0.1 ports, the demo catalog, stores in
/// a directory of its own (deleted on dispose).
/// </summary>
internal sealed class DashboardNode : IAsyncDisposable
{
    public const string Token = "dashboard-admin-token";
    public const string BundleKey = "dashboard-bundle-key";

    private readonly WebApplication _app;

    private DashboardNode(WebApplication app, EdgeSelectorNode node, string dataDir, int binaryPort, int adminPort)
    {
        _app = app;
        Node = node;
        DataDir = dataDir;
        BinaryPort = binaryPort;
        BaseAddress = new Uri($"http://127.0.0.1:{adminPort}");
        Admin = new HttpClient { BaseAddress = BaseAddress };
        Admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        Anonymous = new HttpClient { BaseAddress = BaseAddress };
    }

    /// <summary>The node's composed services and stores.</summary>
    public EdgeSelectorNode Node { get; }

    public string DataDir { get; }

    public int BinaryPort { get; }

    /// <summary>The admin port's address: the page is at its root.</summary>
    public Uri BaseAddress { get; }

    /// <summary>An admin client with the bearer token.</summary>
    public HttpClient Admin { get; }

    /// <summary>A client without a token (what a person's browser is to the open endpoints).</summary>
    public HttpClient Anonymous { get; }

    public DashboardFeed Feed => _app.Services.GetRequiredService<DashboardFeed>();

    public static async Task<DashboardNode> StartAsync(params string[] extra)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "es-dash-" + Guid.NewGuid().ToString("N"));
        var binary = FreePort();
        var admin = FreePort();
        string[] args =
        [
            $"--EdgeSelector:BinaryPort={binary}",
            $"--EdgeSelector:AdminPort={admin}",
            $"--EdgeSelector:DataDir={dataDir}",
            $"--EdgeSelector:AdminToken={Token}",
            $"--EdgeSelector:BundleKey={BundleKey}",
            "--EdgeSelector:Demo=true",
            "--EdgeSelector:ModelMemoryMB=32",
            "--EdgeSelector:ProfileMemoryMB=32",
            "--EdgeSelector:ImpressionLogMemoryMB=8",
            "--EdgeSelector:DeadlineMs=1000",
            "--EdgeSelector:MaxQueueDelayMs=10000",
            .. extra,
        ];
        var (app, node) = EdgeSelectorHost.Build(args);
        await app.StartAsync();
        return new DashboardNode(app, node, dataDir, binary, admin);
    }

    public EdgeSelectorClient Client(int connections = 1) => new(new EdgeSelectorClientOptions
    {
        EndPoint = new IPEndPoint(IPAddress.Loopback, BinaryPort),
        ConnectionCount = connections,
        RequestTimeout = TimeSpan.FromSeconds(30),
    });

    /// <summary>Pushes a signed partial bundle in which title 1003's image <paramref name="winner"/> outscores the others.</summary>
    public async Task PushAsync(ulong version, uint winner)
    {
        var bundle = ModelBundle.Write(
            new BundleManifest { Version = version, ParentVersion = version - 1, Full = false, CreatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() },
            [TitleWithWinner(1003, version, winner)],
            Encoding.UTF8.GetBytes(BundleKey),
            keyId: "trainer-test");
        using var response = await Admin.PutAsync("/v1/models", new ByteArrayContent(bundle));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>The served bundle version as /metrics reports it.</summary>
    public async Task<ulong> ServedVersionAsync() =>
        (ulong)PrometheusText.Parse(await Anonymous.GetStringAsync("/metrics"))["edgeselector_model_bundle_version{which=\"active\"}"];

    public static RequestContext Member(ulong id) => new()
    {
        MemberId = id,
        Country = CountryCode.Pack("US"),
        Language = CountryCode.Pack("EN"),
        Device = DeviceClass.Tv,
        HourOfDay = 21,
        DayOfWeek = 5,
    };

    public async ValueTask DisposeAsync()
    {
        Admin.Dispose();
        Anonymous.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (Directory.Exists(DataDir))
        {
            Directory.Delete(DataDir, recursive: true);
        }
    }

    private static byte[] TitleWithWinner(uint titleId, ulong version, uint winner)
    {
        var model = new TitleModel(titleId, version, (titleId * 100) + 1, FeatureSpace.Default) { PriorMean = 0.05f };
        for (uint i = 1; i <= 3; i++)
        {
            var image = (titleId * 100) + i;
            model.Images.Add(new ImageModel(image, FeatureSpace.Default.Dimension) { Bias = image == winner ? 0.9f : 0.01f, BiasVariance = 1e-6f });
        }

        return model.Serialize(ModelDefaults.ServingPrecision);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Prometheus text exposition (what GET /metrics answers) as series name with labels → value.</summary>
internal static class PrometheusText
{
    public static Dictionary<string, double> Parse(string text)
    {
        var series = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            series[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }

        return series;
    }
}
