using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeSelector.Core.Bundles;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// Structured logging as an operator sees it (docs/operations.md, "Logging"): the real server process with the JSON
/// console formatter; every stdout line is one JSON object, and each admin, bundle, profile, authentication,
/// checkpoint, recovery and lifecycle event is there with its event id and named fields, and no secret anywhere.
/// </summary>
public sealed class ServerLoggingTests
{
    [Fact]
    public async Task JsonConsole_LogsEveryOperatorEvent_WithFields_AndNoSecret()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "es-log-" + Guid.NewGuid().ToString("N"));
        var (binaryPort, adminPort) = (FreePort(), FreePort());
        var lines = new ConcurrentQueue<string>();
        using var process = Start(
            lines,
            $"--EdgeSelector:DataDir={dataDir}", $"--EdgeSelector:BinaryPort={binaryPort}", $"--EdgeSelector:AdminPort={adminPort}",
            "--EdgeSelector:Demo=true", "--EdgeSelector:ModelMemoryMB=32", "--EdgeSelector:ProfileMemoryMB=32", "--EdgeSelector:ImpressionLogMemoryMB=8",
            "--Logging:Console:FormatterName=json");
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}"), Timeout = TimeSpan.FromSeconds(60) };
            await WaitReady(http, process, lines);

            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/v1/models")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/v1/models")).StatusCode); // within 10 s: not logged again
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LiveServer.Token);
            Assert.Equal(HttpStatusCode.OK, (await http.PutAsync("/v1/models", new ByteArrayContent(ServerTests.Bundle(2, ServerTests.TitleWithWinner(1003, 2, 100302))))).StatusCode);
            var wrongKey = ModelBundle.Write(new BundleManifest { Version = 3, Full = false }, [ServerTests.TitleWithWinner(1003, 3, 100302)], Encoding.UTF8.GetBytes("not-the-key"));
            Assert.Equal(HttpStatusCode.Forbidden, (await http.PutAsync("/v1/models", new ByteArrayContent(wrongKey))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/v1/models/rollback", null)).StatusCode);
            var profiles = "{\"profiles\":[{\"memberId\":77,\"country\":\"DE\",\"device\":\"web\",\"genres\":{\"scifi\":0.9}}]}";
            Assert.Equal(HttpStatusCode.OK, (await http.PutAsync("/v1/profiles", new StringContent(profiles))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/v1/checkpoint", null)).StatusCode);

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(120)), "the server did not stop within 120 s of SIGTERM");
            process.WaitForExit(); // the output readers drain
            Assert.Equal(0, process.ExitCode);

            var output = string.Join('\n', lines);
            Assert.DoesNotContain(LiveServer.Token, output);
            Assert.DoesNotContain(LiveServer.BundleKey, output);
            var events = new List<JsonElement>();
            foreach (var line in lines.Where(l => l.StartsWith("out:", StringComparison.Ordinal)).Select(l => l[4..]).Where(l => l.Length > 0))
            {
                // Every stdout line is one JSON object: the node writes nothing to stdout except through ILogger.
                using var json = JsonDocument.Parse(line);
                events.Add(json.RootElement.Clone());
            }

            // Numbers are JSON numbers and text is JSON strings in the formatter's State: compare the text of either.
            JsonElement State(int id) => Assert.Single(events, e => e.GetProperty("EventId").GetInt32() == id).GetProperty("State");
            Assert.Equal(binaryPort, State(1000).GetProperty("BinaryPort").GetInt32());
            Assert.Equal("0", State(1010).Field("BundleVersion")); // a fresh data directory: the demo is seeded after recovery
            Assert.Equal("demo", State(1013).Field("Catalog"));
            Assert.Equal("no Authorization header", State(2000).Field("Reason"));
            Assert.Equal("/v1/models", State(2000).Field("Path"));
            Assert.Equal("2", State(3000).Field("Version"));
            Assert.Matches("^[0-9a-f]{64}$", State(3000).Field("Sha256"));
            Assert.Equal("403", State(3001).Field("Status"));
            Assert.Equal(("2", "1"), (State(3002).Field("FromVersion"), State(3002).Field("ToVersion")));
            Assert.Equal("1", State(2010).Field("Count"));
            Assert.True(State(2020).TryGetProperty("DurationMs", out _));
            Assert.Equal(2, events.Count(e => e.GetProperty("EventId").GetInt32() == 1012)); // impression and reward logs
            Assert.True(State(1001).ValueKind == JsonValueKind.Object && State(1002).ValueKind == JsonValueKind.Object);
            Assert.All(events.Where(e => e.Field("Category")!.StartsWith("EdgeSelector", StringComparison.Ordinal)), e => Assert.True(e.GetProperty("EventId").GetInt32() > 0));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }

            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    private static Process Start(ConcurrentQueue<string> lines, params string[] args)
    {
        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(host) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "edgeselector.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // Secrets through the environment, as docs/operations.md recommends.
        start.Environment["EdgeSelector__AdminToken"] = LiveServer.Token;
        start.Environment["EdgeSelector__BundleKey"] = LiveServer.BundleKey;
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => Collect(lines, "out:", e.Data);
        process.ErrorDataReceived += (_, e) => Collect(lines, "err:", e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void Collect(ConcurrentQueue<string> lines, string stream, string? line)
    {
        if (line is not null && lines.Count < 10_000)
        {
            lines.Enqueue(stream + line);
        }
    }

    private static Task WaitReady(HttpClient http, Process process, ConcurrentQueue<string> lines) =>
        ServerLauncher.WaitReadyAsync(http, process, () => string.Join('\n', lines));

}

/// <summary>A logged field's text, whether the formatter wrote it as a JSON string or a number.</summary>
internal static class JsonFieldExtensions
{
    public static string Field(this JsonElement state, string name)
    {
        var value = state.GetProperty(name);
        return value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
    }
}
