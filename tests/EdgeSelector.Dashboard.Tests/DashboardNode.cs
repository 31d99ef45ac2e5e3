using System.Globalization;
using System.Net;
using System.Text;
using EdgeSelector.Client;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Dashboard;
using EdgeSelector.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeSelector.Dashboard.Tests;

/// <summary>
/// A real node in this process for the dashboard tests (a <see cref="LiveServer"/> with the demo catalog), with what
/// they ask of it besides: the dashboard feed, a bundle push, the served version.
/// </summary>
internal sealed class DashboardNode : IAsyncDisposable
{
    public const string Token = LiveServer.Token;
    public const string BundleKey = LiveServer.BundleKey;

    private readonly LiveServer _server;

    private DashboardNode(LiveServer server)
    {
        _server = server;
    }

    /// <summary>The node's composed services and stores.</summary>
    public EdgeSelectorNode Node => _server.Node;

    public string DataDir => _server.DataDir;

    public int BinaryPort => _server.BinaryPort;

    /// <summary>The admin port's address: the page is at its root.</summary>
    public Uri BaseAddress => _server.BaseAddress;

    /// <summary>An admin client with the bearer token.</summary>
    public HttpClient Admin => _server.Http;

    /// <summary>A client without a token (what a person's browser is to the open endpoints).</summary>
    public HttpClient Anonymous => _server.Anonymous;

    public DashboardFeed Feed => _server.App.Services.GetRequiredService<DashboardFeed>();

    public static async Task<DashboardNode> StartAsync(params string[] extra) =>
        new(await LiveServer.StartAsync(Path.Combine(Path.GetTempPath(), "es-dash-" + Guid.NewGuid().ToString("N")), demo: true, extra: extra));

    public EdgeSelectorClient Client(int connections = 1) => _server.Client(connections);

    /// <summary>Pushes a signed partial bundle in which title 1003's image <paramref name="winner"/> outscores the others.</summary>
    public async Task PushAsync(ulong version, uint winner)
    {
        var bundle = ModelBundle.Write(
            new BundleManifest { Version = version, ParentVersion = version - 1, Full = false, CreatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() },
            [TestBundles.TitleWithWinner(1003, version, winner)],
            Encoding.UTF8.GetBytes(BundleKey),
            keyId: "trainer-test");
        using var response = await Admin.PutAsync("/v1/models", new ByteArrayContent(bundle));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>The served bundle version as /metrics reports it.</summary>
    public async Task<ulong> ServedVersionAsync() =>
        (ulong)PrometheusText.Parse(await Anonymous.GetStringAsync("/metrics"))["edgeselector_model_bundle_version{which=\"active\"}"];

    public static RequestContext Member(ulong id) => Members.Member(id);

    public ValueTask DisposeAsync() => _server.DisposeAsync();
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
