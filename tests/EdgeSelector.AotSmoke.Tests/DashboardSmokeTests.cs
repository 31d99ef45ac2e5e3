using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;

namespace EdgeSelector.AotSmoke.Tests;

/// <summary>
/// The dashboard from the native binary (docs/dashboard.md): the page and its scripts come out of the binary's embedded
/// resources, and its JSON goes through the source-generated serializers, with no file beside the binary.
/// </summary>
public sealed class DashboardSmokeTests
{
    private const string Token = "smoke-dashboard-token";

    [Fact]
    public async Task NativeBinary_ServesTheDashboard_AndItsJson()
    {
        var binary = Environment.GetEnvironmentVariable("EDGESELECTOR_BINARY");
        Assert.False(string.IsNullOrEmpty(binary), "set EDGESELECTOR_BINARY to the published edgeselector binary (.ci/run does)");
        var dataDir = Path.Combine(Path.GetTempPath(), "es-aot-dash-" + Guid.NewGuid().ToString("N"));
        var (binaryPort, adminPort) = (FreePort(), FreePort());
        var info = new ProcessStartInfo(binary!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            $"--EdgeSelector:BinaryPort={binaryPort}", $"--EdgeSelector:AdminPort={adminPort}", $"--EdgeSelector:DataDir={dataDir}",
            $"--EdgeSelector:AdminToken={Token}", "--EdgeSelector:Demo=true", "--EdgeSelector:ModelMemoryMB=32",
            "--EdgeSelector:ProfileMemoryMB=32", "--EdgeSelector:ImpressionLogMemoryMB=8",
        })
        {
            info.ArgumentList.Add(arg);
        }

        using var server = Process.Start(info)!;
        server.OutputDataReceived += (_, e) => Console.WriteLine($"[edgeselector] {e.Data}");
        server.ErrorDataReceived += (_, e) => Console.WriteLine($"[edgeselector:err] {e.Data}");
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}"), Timeout = TimeSpan.FromSeconds(10) };
            await WaitReady(http, server);

            using var page = await http.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("<script src=\"/dashboard/app.js\" defer></script>", await page.Content.ReadAsStringAsync());
            using var script = await http.GetAsync("/dashboard/app.js");
            Assert.Equal(HttpStatusCode.OK, script.StatusCode);
            Assert.True(script.Content.Headers.ContentLength > 10_000);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/dashboard/app.css")).StatusCode);

            using (var stats = JsonDocument.Parse(await http.GetStringAsync("/dashboard/stats")))
            {
                Assert.Equal(1ul, stats.RootElement.GetProperty("bundle").GetProperty("activeVersion").GetUInt64());
                Assert.Equal(6, stats.RootElement.GetProperty("requests").GetArrayLength());
                Assert.True(stats.RootElement.GetProperty("memory").GetProperty("workingSetBytes").GetInt64() > 0);
            }

            using (var titles = JsonDocument.Parse(await http.GetStringAsync("/dashboard/titles")))
            {
                Assert.True(titles.RootElement.GetProperty("enabled").GetBoolean());
            }

            Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync("/v1/checkpoint", null)).StatusCode);
            using var checkpoint = new HttpRequestMessage(HttpMethod.Post, "/v1/checkpoint");
            checkpoint.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            using var done = await http.SendAsync(checkpoint);
            Assert.Equal(HttpStatusCode.OK, done.StatusCode);
            Assert.Contains("durationMs", await done.Content.ReadAsStringAsync());
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill();
                server.WaitForExit(30_000);
            }

            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    private static async Task WaitReady(HttpClient http, Process server)
    {
        var deadline = DateTime.UtcNow.AddSeconds(180);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(server.HasExited, "the server exited before it was ready");
            try
            {
                if ((await http.GetAsync("/readyz")).IsSuccessStatusCode)
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

        throw new TimeoutException("the native server did not become ready within 180 s");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
