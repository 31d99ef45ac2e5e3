using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using EdgeSelector.Client;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Protocol;

namespace EdgeSelector.AotSmoke.Tests;

/// <summary>
/// The native binary, started as a process: every store, log and protocol path the server uses, then a graceful
/// stop and a restart that must recover from its checkpoints (docs/aot.md).
/// </summary>
public sealed class NativeBinaryTests
{
    private const string Token = "smoke-token";
    internal const string Key = "smoke-key";

    [Fact]
    public async Task NativeBinary_ServesEveryPath_AndRecoversAfterRestart()
    {
        var binary = Environment.GetEnvironmentVariable("EDGESELECTOR_BINARY");
        Assert.False(string.IsNullOrEmpty(binary), "set EDGESELECTOR_BINARY to the published edgeselector binary (.ci/run does)");
        Assert.True(File.Exists(binary), $"{binary} does not exist");
        var dataDir = Path.Combine(Path.GetTempPath(), "es-aot-" + Guid.NewGuid().ToString("N"));
        var (binaryPort, adminPort) = (FreePort(), FreePort());
        try
        {
            using (var server = Start(binary!, dataDir, binaryPort, adminPort))
            {
                using var http = await ReadyClient(adminPort, server);
                await using var client = new EdgeSelectorClient(new EdgeSelectorClientOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, binaryPort) });

                Assert.Equal(5ul, await client.PingAsync(5));
                var one = await client.SelectAsync(Context(1), new TitleCandidate(1001, 0.5f, false));
                Assert.Equal(FallbackReason.None, one.Reason);
                var page = new SelectResult[3];
                await client.SelectPageAsync(Context(2), new[] { new TitleCandidate(1001, 0.1f, false), new TitleCandidate(1002, 0.2f, true), new TitleCandidate(4242, 0f, false) }, page);
                Assert.Equal([FallbackReason.None, FallbackReason.None, FallbackReason.UnknownTitle], page.Select(r => r.Reason));
                Assert.Equal(RewardStatus.Accepted, await client.RewardAsync(RewardRequest.For(one, true, 30f, 0.4f)));

                // Model push (FASTER KV upsert of SpanByte values, a new generation), listing, rollback, push again.
                var bundle = ModelBundle.Write(new BundleManifest { Version = 2, ParentVersion = 1, Full = false }, [Winner(1003, 2, 100302)], Encoding.UTF8.GetBytes(Key));
                Assert.Equal(HttpStatusCode.OK, (await http.PutAsync("/v1/models", new ByteArrayContent(bundle))).StatusCode);
                Assert.Equal(100302u, (await client.SelectAsync(Context(1), new TitleCandidate(1003, 0.5f, false))).ImageId);
                Assert.Contains("\"activeVersion\":2", await http.GetStringAsync("/v1/models"));
                Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/v1/models/rollback", null)).StatusCode);
                Assert.Equal(1ul, (await client.SelectAsync(Context(1), new TitleCandidate(1003, 0.5f, false))).ModelVersion);
                Assert.Equal(HttpStatusCode.OK, (await http.PutAsync("/v1/models", new ByteArrayContent(bundle))).StatusCode);

                // Profiles (FASTER KV of a blittable struct), the JSON admin paths, metrics.
                var profiles = "{\"profiles\":[{\"memberId\":424242,\"country\":\"DE\",\"device\":\"web\",\"genres\":{\"scifi\":0.9}}]}";
                Assert.Equal(HttpStatusCode.OK, (await http.PutAsync("/v1/profiles", new StringContent(profiles))).StatusCode);
                var select = await http.PostAsync("/v1/select", new StringContent("{\"memberId\":424242,\"titles\":[{\"titleId\":1010}]}"));
                Assert.Contains("\"reason\":\"none\"", await select.Content.ReadAsStringAsync());
                var rewards = await http.PostAsync("/v1/rewards", new StringContent($"{{\"rewards\":[{{\"eventId\":\"{page[0].EventId}\",\"eventTag\":\"{page[0].EventTag}\",\"playStarted\":true,\"minutesWatched\":5}}]}}"));
                Assert.Contains("accepted", await rewards.Content.ReadAsStringAsync());
                Assert.Contains("\"openapi\": \"3.1.0\"", await http.GetStringAsync("/openapi.json")); // embedded resource, native binary
                var metrics = await http.GetStringAsync("/metrics");
                Assert.Contains("edgeselector_selections_total", metrics);
                Assert.Matches("edgeselector_impressions_total{result=\"logged\"} [1-9]", metrics);

                Stop(server);
            }

            // Restart with no demo and no control plane: models (bundle 2) and profiles come back from the checkpoints.
            using (var server = Start(binary!, dataDir, binaryPort, adminPort, demo: false))
            {
                using var http = await ReadyClient(adminPort, server);
                await using var client = new EdgeSelectorClient(new EdgeSelectorClientOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, binaryPort) });
                var again = await client.SelectAsync(Context(1), new TitleCandidate(1003, 0.5f, false));
                Assert.Equal(2ul, again.ModelVersion);
                Assert.Equal(100302u, again.ImageId);
                Assert.Equal(FallbackReason.None, (await client.SelectAsync(Context(424242), new TitleCandidate(1010, 0.5f, false))).Reason);
                Stop(server);
            }
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    internal static RequestContext Context(ulong member) => new() { MemberId = member, Country = CountryCode.Pack("US"), Device = DeviceClass.Tv, HourOfDay = 20, DayOfWeek = 3 };

    internal static byte[] Winner(uint title, ulong version, uint winner)
    {
        var model = new TitleModel(title, version, (title * 100) + 1, FeatureSpace.Default);
        for (uint i = 1; i <= 3; i++)
        {
            model.Images.Add(new ImageModel((title * 100) + i, FeatureSpace.Default.Dimension) { Bias = (title * 100) + i == winner ? 0.9f : 0.01f });
        }

        return model.Serialize(ModelDefaults.ServingPrecision);
    }

    internal static Process Start(string binary, string dataDir, int binaryPort, int adminPort, bool demo = true, params string[] extra)
    {
        var info = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            $"--EdgeSelector:BinaryPort={binaryPort}", $"--EdgeSelector:AdminPort={adminPort}", $"--EdgeSelector:DataDir={dataDir}",
            $"--EdgeSelector:AdminToken={Token}", $"--EdgeSelector:BundleKey={Key}", $"--EdgeSelector:Demo={demo}",
            "--EdgeSelector:ModelMemoryMB=32", "--EdgeSelector:ProfileMemoryMB=32", "--EdgeSelector:ImpressionLogMemoryMB=8",
            // The smoke tests assert which image wins: greedy, since ε-greedy's sticky draw explores in about ε of the
            // stickiness windows and such an assertion would fail on some days.
            "--EdgeSelector:Policy=Greedy",
        }.Concat(extra))
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => Console.WriteLine($"[edgeselector] {e.Data}");
        process.ErrorDataReceived += (_, e) => Console.WriteLine($"[edgeselector:err] {e.Data}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    internal static async Task<HttpClient> ReadyClient(int adminPort, Process server)
    {
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}"), Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        var deadline = DateTime.UtcNow.AddSeconds(180);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(server.HasExited, $"the server exited with code {(server.HasExited ? server.ExitCode : 0)}");
            try
            {
                if ((await http.GetAsync("/readyz")).IsSuccessStatusCode)
                {
                    return http;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(200);
        }

        throw new TimeoutException("the native server did not become ready within 180 s");
    }

    // SIGTERM: the host stops gracefully and checkpoints the stores on the way out.
    private static void Stop(Process server)
    {
        using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }

        if (!server.WaitForExit(30_000))
        {
            server.Kill();
            Assert.Fail("the server did not stop within 30 s of SIGTERM");
        }

        Assert.Equal(0, server.ExitCode);
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
