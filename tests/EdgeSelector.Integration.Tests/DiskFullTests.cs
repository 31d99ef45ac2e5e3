using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using EdgeSelector.Core.Features;
using EdgeSelector.Protocol;
using EdgeSelector.Testing;
using Xunit.Abstractions;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// The node on a real small disk (a tmpfs of its own; reported skipped where mounting is not permitted): it refuses to
/// start with a clear line and exit code 3 when the disk cannot hold its checkpoints, starts when sized for it, and
/// on a full disk keeps serving, refuses writes with 503, reports itself not ready, recovers by itself when space
/// returns and stops within its bound on SIGTERM (docs/reliability.md).
/// </summary>
public sealed class DiskFullTests(ITestOutputHelper output)
{
    private static readonly string[] SmallIndexes = ["--EdgeSelector:ModelIndexMB=2", "--EdgeSelector:ProfileIndexMB=4"];

    [SkippableFact]
    public void SmallDisk_DefaultIndexes_RefusesToStartWithOneLineAndExitCode3()
    {
        using var disk = Tmpfs.TryMount(48, out var reason);
        Skip.If(disk is null, reason);
        // The production default indexes (16 + 64 MB; the tests' defaults are smaller) do not fit on a 48 MB disk.
        using var node = ServerProcess.Start(Path.Combine(disk!.Path, "data"), "--EdgeSelector:Demo=true", "--EdgeSelector:ModelIndexMB=16", "--EdgeSelector:ProfileIndexMB=64");
        Assert.True(node.WaitForExit(TimeSpan.FromSeconds(120)), "the server neither started nor exited: it hangs");
        output.WriteLine(node.Output);
        Assert.Equal(3, node.ExitCode);
        Assert.Contains("cannot start: not enough disk space", node.Output);
        Assert.Contains("ProfileIndexMB", node.Output);
    }

    [SkippableFact]
    public async Task FullDisk_ServesRefusesWritesNotReady_RecoversWhenFreed_AckedWritesSurviveKill9_SigtermBounded()
    {
        using var disk = Tmpfs.TryMount(48, out var reason);
        Skip.If(disk is null, reason);
        var dataDir = Path.Combine(disk!.Path, "data");
        string[] args = ["--EdgeSelector:Demo=true", "--EdgeSelector:StoreWriteTimeoutSeconds=3", "--EdgeSelector:ShutdownTimeoutSeconds=9", .. SmallIndexes];
        using (var node = ServerProcess.Start(dataDir, args))
        {
            await node.WaitReadyAsync();
            Assert.Equal(HttpStatusCode.OK, (await node.Http.PutAsync("/v1/models", new ByteArrayContent(ServerTests.Bundle(2, ServerTests.TitleWithWinner(1003, 2, 100302))))).StatusCode);
            var ballast = disk.Fill(leaveBytes: 0);

            // Selections go on (from memory: models and profiles are served from memory, impressions are best effort).
            await using (var client = node.Client())
            {
                var titles = Enumerable.Range(1001, 12).Select(t => new TitleCandidate((uint)t, 0.5f, false)).ToArray();
                var results = new SelectResult[titles.Length];
                for (ulong m = 1; m <= 200; m++)
                {
                    Assert.Equal(12, await client.SelectPageAsync(Member(m), titles, results));
                    Assert.All(results, r => Assert.NotEqual(0u, r.ImageId));
                }
            }

            // Every admin write is refused with 503 + a JSON reason, promptly.
            var watch = Stopwatch.StartNew();
            await AssertRetryLater(await node.Http.PutAsync("/v1/models", new ByteArrayContent(ServerTests.Bundle(3, ServerTests.TitleWithWinner(1003, 3, 100303)))));
            await AssertRetryLater(await node.Http.PutAsync("/v1/profiles", Json("{\"profiles\":[{\"memberId\":888001,\"country\":\"FR\"}]}")));
            await AssertRetryLater(await node.Http.PostAsync("/v1/models/rollback", null));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"three refused writes took {watch.Elapsed}");

            // Not ready, with the reason; healthz says so too.
            await WaitFor(node, "/readyz", HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30));
            using (var ready = JsonDocument.Parse(await (await node.Http.GetAsync("/readyz")).Content.ReadAsStringAsync()))
            {
                Assert.False(ready.RootElement.GetProperty("ready").GetBoolean());
                Assert.False(string.IsNullOrEmpty(ready.RootElement.GetProperty("reason").GetString()));
            }

            using (var health = JsonDocument.Parse(await node.Http.GetStringAsync("/healthz")))
            {
                Assert.Equal("not_ready", health.RootElement.GetProperty("status").GetString());
            }

            // Space returns: the node recovers by itself and takes writes again.
            File.Delete(ballast);
            await WaitFor(node, "/readyz", HttpStatusCode.OK, TimeSpan.FromSeconds(60));
            Assert.Equal(HttpStatusCode.OK, (await node.Http.PutAsync("/v1/models", new ByteArrayContent(ServerTests.Bundle(3, ServerTests.TitleWithWinner(1003, 3, 100303))))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await node.Http.PutAsync("/v1/profiles", Json("{\"profiles\":[{\"memberId\":888001,\"country\":\"FR\"}]}"))).StatusCode);
            Assert.Contains("edgeselector_log_commit_healthy{log=\"impressions\"} 1", await node.Http.GetStringAsync("/metrics"));
            node.Kill9();
        }

        // What was answered 200 survives kill -9; then a full disk again and SIGTERM: the node stops within its bound.
        using (var node = ServerProcess.Start(dataDir, args))
        {
            await node.WaitReadyAsync();
            using (var models = JsonDocument.Parse(await node.Http.GetStringAsync("/v1/models")))
            {
                Assert.Equal(3ul, models.RootElement.GetProperty("activeVersion").GetUInt64());
            }

            var ballast = disk.Fill(leaveBytes: 0);
            await using (var client = node.Client())
            {
                // Impressions now wait for the disk: the log's commit stalls.
                var titles = Enumerable.Range(1001, 12).Select(t => new TitleCandidate((uint)t, 0.5f, false)).ToArray();
                for (ulong m = 1; m <= 2_000; m++)
                {
                    await client.SelectPageAsync(Member(m), titles, new SelectResult[titles.Length]);
                }
            }

            var watch = Stopwatch.StartNew();
            node.Terminate();
            Assert.True(node.WaitForExit(TimeSpan.FromSeconds(30)), "the server did not stop within 30 s of SIGTERM on a full disk");
            output.WriteLine($"SIGTERM on a full disk: exited {node.ExitCode} after {watch.Elapsed.TotalSeconds:F1} s");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(9 + 5), $"stopped after {watch.Elapsed}, bound 9 s (+5 s slack for a loaded machine)");
            Assert.Contains(node.ExitCode, new[] { 0, 4 });
            File.Delete(ballast);
        }
    }

    [SkippableFact]
    public async Task SmallDisk_SizedIndexes_StartsWithTheDemoAndIsReady()
    {
        using var disk = Tmpfs.TryMount(48, out var reason);
        Skip.If(disk is null, reason);
        using var node = ServerProcess.Start(Path.Combine(disk!.Path, "data"), ["--EdgeSelector:Demo=true", .. SmallIndexes]);
        await node.WaitReadyAsync();
        using var ready = JsonDocument.Parse(await node.Http.GetStringAsync("/readyz"));
        Assert.Equal(12, ready.RootElement.GetProperty("titles").GetInt32());
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task AssertRetryLater(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode}: {body}");
        using var json = JsonDocument.Parse(body);
        Assert.True(json.RootElement.GetProperty("retry").GetBoolean());
        Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("error").GetString()));
        Assert.NotNull(response.Headers.RetryAfter);
    }

    private static async Task WaitFor(ServerProcess node, string path, HttpStatusCode status, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while ((await node.Http.GetAsync(path)).StatusCode != status)
        {
            Assert.True(watch.Elapsed < timeout, $"{path} did not answer {status} within {timeout}:\n{node.Output}");
            await Task.Delay(200);
        }
    }
}
