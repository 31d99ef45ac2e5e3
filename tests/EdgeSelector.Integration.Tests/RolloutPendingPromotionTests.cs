using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeSelector.Learning.Training;
using Xunit.Abstractions;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// A promotion whose push the model store answers Pending (written, not durable within
/// <c>StoreWriteTimeoutSeconds</c>) is not a failure: it is recorded as <c>promote_pending</c> and finished as
/// <c>promote</c> once the active version reaches the candidate's (issue 15, docs/rollout.md "Decisions").
/// </summary>
public sealed class RolloutPendingPromotionTests(ITestOutputHelper output)
{
    // A store write timeout far below any checkpoint: every push is answered Pending and takes effect in the background.
    private static readonly string[] SlowStoreSettings =
    [
        .. RolloutTests.Settings.Where(s => !s.StartsWith("--EdgeSelector:StoreWriteTimeoutSeconds=", StringComparison.Ordinal)),
        "--EdgeSelector:StoreWriteTimeoutSeconds=0.000001",
        "--EdgeSelector:Rollout:AutoDecide=false",
    ];

    [Fact]
    public async Task Promote_AnsweredPendingByTheStore_IsRecordedPromoted_OnceItTakesEffect()
    {
        var world = new LoopWorld(titles: 6, members: 200, seed: 31);
        await using var server = await LiveServer.StartAsync(demo: false, extra: SlowStoreSettings);

        // Even the first push is answered "not durable yet" (503, retry) and takes effect in the background.
        var push = await server.Http.PutAsync("/v1/models", new ByteArrayContent(RolloutTests.Bundle(world, 1, clickbait: false)));
        output.WriteLine($"push: {(int)push.StatusCode} {await push.Content.ReadAsStringAsync()}");
        await Until(server, s => s.GetProperty("activeVersion").GetUInt64() == 1, "bundle 1 never became active");
        Assert.Equal(HttpStatusCode.OK, (await RolloutTests.StartCandidate(server, RolloutTests.Bundle(world, 2, clickbait: false), 0.5)).StatusCode);

        var promote = await server.Http.PostAsync("/v1/rollout/promote", null);
        var body = await promote.Content.ReadAsStringAsync();
        output.WriteLine($"promote: {(int)promote.StatusCode} {body}");
        Assert.Equal(HttpStatusCode.Accepted, promote.StatusCode);
        Assert.Contains("promote_pending", body, StringComparison.Ordinal);

        var status = await Until(server, s => LastAction(s) != "promote_pending", "the pending promotion was never finished");
        output.WriteLine(status.GetProperty("decisions").ToString());
        Assert.Equal("promote", LastAction(status));
        Assert.Equal(2ul, status.GetProperty("activeVersion").GetUInt64());
        Assert.False(status.TryGetProperty("candidate", out _));
        Assert.False(status.TryGetProperty("promotionPending", out _));
        var actions = status.GetProperty("decisions").EnumerateArray().Select(d => d.GetProperty("action").GetString()).ToList();
        Assert.Equal(["started", "promote_pending", "promote"], actions);
        Assert.Contains("took effect once the model store made it durable", Last(status).GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(2ul, Last(status).GetProperty("activeVersion").GetUInt64());

        var metrics = await server.Anonymous.GetStringAsync("/metrics");
        Assert.Contains("edgeselector_rollout_decisions_total{action=\"promote\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("edgeselector_rollout_decisions_total{action=\"promote_pending\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("edgeselector_rollout_decisions_total{action=\"promote_failed\"} 0", metrics, StringComparison.Ordinal);
    }

    private static JsonElement Last(JsonElement status)
    {
        var decisions = status.GetProperty("decisions");
        return decisions[decisions.GetArrayLength() - 1];
    }

    private static string? LastAction(JsonElement status) =>
        status.GetProperty("decisions").GetArrayLength() == 0 ? null : Last(status).GetProperty("action").GetString();

    // Polls GET /v1/rollout every 50 ms for at most 60 s (a checkpoint on this shared disk can take seconds).
    private static async Task<JsonElement> Until(LiveServer server, Func<JsonElement, bool> condition, string failure)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var status = await server.Http.GetFromJsonAsync<JsonElement>("/v1/rollout");
            if (condition(status))
            {
                return status;
            }

            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), failure);
            await Task.Delay(50);
        }
    }
}
