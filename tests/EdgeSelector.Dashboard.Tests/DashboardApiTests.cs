using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EdgeSelector.Client;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Dashboard;

namespace EdgeSelector.Dashboard.Tests;

/// <summary>The dashboard's endpoints over real sockets, without a browser.</summary>
public sealed class DashboardApiTests
{
    [Fact]
    public async Task Stats_AfterTraffic_EqualEveryCounterOfMetrics()
    {
        await using var node = await DashboardNode.StartAsync();
        await using (var client = node.Client())
        {
            var page = new SelectResult[3];
            TitleCandidate[] titles = [new(1001, 0.5f, false), new(1003, 0.5f, false), new(9999, 0f, false)];
            for (ulong m = 1; m <= 20; m++)
            {
                await client.SelectPageAsync(DashboardNode.Member(m), titles, page);
                await client.RewardAsync(RewardRequest.For(page[0], true, 3f, 0.2f));
            }

            await client.PingAsync(1);
        }

        var stats = await Stats(node);
        var metrics = PrometheusText.Parse(await node.Anonymous.GetStringAsync("/metrics"));
        Assert.Equal(60, stats.Selections);
        Assert.Equal(metrics["edgeselector_selections_total"], stats.Selections);
        foreach (var op in stats.Requests)
        {
            Assert.Equal(metrics[$"edgeselector_requests_total{{op=\"{op.Op}\"}}"], op.Total);
            Assert.Equal(op.Total, op.Buckets.Sum());
            Assert.Equal(metrics[$"edgeselector_request_duration_seconds_count{{op=\"{op.Op}\"}}"], op.Buckets.Sum());
        }

        Assert.Equal(20, stats.Requests.Single(o => o.Op == "select_page").Total);
        Assert.Equal(20, stats.Fallbacks["unknown_title"]);
        foreach (var (reason, count) in stats.Fallbacks)
        {
            Assert.Equal(metrics[$"edgeselector_fallbacks_total{{reason=\"{reason}\"}}"], count);
        }

        foreach (var (status, count) in stats.Rewards)
        {
            Assert.Equal(metrics[$"edgeselector_rewards_total{{status=\"{status}\"}}"], count);
        }

        Assert.Equal(20, stats.Rewards["accepted"]);
        Assert.Equal(metrics["edgeselector_impressions_total{result=\"logged\"}"], stats.ImpressionLog.Appended);
        Assert.Equal(metrics["edgeselector_connections_total{listener=\"binary\"}"], stats.Connections.Accepted);
        foreach (var (profile, count) in stats.ModelDecisions)
        {
            Assert.Equal(metrics[$"edgeselector_model_decisions_total{{profile=\"{profile}\"}}"], count);
        }

        Assert.DoesNotContain("no_profile", stats.Fallbacks.Keys); // a decision without a profile is the model's, not a fallback
        Assert.Equal(metrics["edgeselector_model_bundle_version{which=\"active\"}"], stats.Bundle.ActiveVersion);
        Assert.Equal(metrics["edgeselector_models"], stats.Bundle.Titles);
        Assert.True(stats.Memory.WorkingSetBytes > 0 && stats.Memory.GcHeapBytes > 0);
        Assert.True(stats.Node.Ready);
        Assert.Null(stats.Fleet);
    }

    [Fact]
    public async Task Stats_ShowTheActiveBundle_WithItsSignerAndDigest_AndTheHistory()
    {
        await using var node = await DashboardNode.StartAsync();
        await node.PushAsync(2, 100302);
        var stats = await Stats(node);
        Assert.Equal(2ul, stats.Bundle.ActiveVersion);
        Assert.Equal(1ul, stats.Bundle.PreviousVersion);
        Assert.Equal("trainer-test", stats.Bundle.Active!.KeyId);
        Assert.Matches("^[0-9a-f]{64}$", stats.Bundle.Active.Sha256);
        Assert.Equal([1ul, 2ul], stats.Bundle.History.Select(b => b.Version));
        Assert.Equal(string.Empty, stats.Bundle.History[0].Sha256); // the built-in demo catalog was not pushed
    }

    [Fact]
    public async Task OpenEndpoints_CarryNoSecret_AndNeedNoToken()
    {
        await using var node = await DashboardNode.StartAsync();
        await node.PushAsync(2, 100302);
        foreach (var path in new[] { "/", "/dashboard/stats", "/dashboard/titles", "/dashboard/app.js", "/dashboard/app.css" })
        {
            using var response = await node.Anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain(DashboardNode.Token, body, StringComparison.Ordinal);
            Assert.DoesNotContain(DashboardNode.BundleKey, body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Page_IsServedFromTheBinary_WithItsSecurityHeaders_AndRevalidates()
    {
        await using var node = await DashboardNode.StartAsync();
        using var page = await node.Anonymous.GetAsync("/");
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script src=\"/dashboard/app.js\" defer></script>", html);
        Assert.Contains("script-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());

        var etag = page.Headers.ETag!;
        using var again = new HttpRequestMessage(HttpMethod.Get, "/");
        again.Headers.IfNoneMatch.Add(etag);
        using var notModified = await node.Anonymous.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        using var script = await node.Anonymous.GetAsync("/dashboard/app.js");
        Assert.Equal("text/javascript", script.Content.Headers.ContentType!.MediaType);
        Assert.True(script.Content.Headers.ContentLength > 10_000, "app.js should hold the page and uPlot");
        Assert.Contains("uPlot", await node.Anonymous.GetStringAsync("/dashboard/licenses.txt"));
        Assert.Equal(HttpStatusCode.NotFound, (await node.Anonymous.GetAsync("/dashboard/missing.js")).StatusCode);
    }

    [Fact]
    public async Task Titles_SampleTheLoggedDecisions_SharesAndPropensities()
    {
        // Epsilon-greedy (0.1) over three images with one clear winner: the winner is logged with 0.9 + 0.1/3 and each
        // other image with 0.1/3, whatever the member.
        await using var node = await DashboardNode.StartAsync("--EdgeSelector:Policy=EpsilonGreedy", "--EdgeSelector:Epsilon=0.1");
        await node.PushAsync(2, 100303);
        await using (var client = node.Client())
        {
            for (ulong m = 1; m <= 400; m++)
            {
                await client.SelectAsync(DashboardNode.Member(m), new TitleCandidate(1003, 0.5f, false));
            }

            await client.SelectAsync(DashboardNode.Member(1), new TitleCandidate(9999, 0.5f, false));
        }

        var sample = await WaitForTitles(node, "?title=1003", s => s.Titles[0].Decisions >= 400);
        var title = sample.Titles.Single();
        Assert.Equal(1003u, title.TitleId);
        Assert.Equal(0, title.Fallbacks);
        Assert.Equal(2ul, title.ModelVersion);
        Assert.Equal(100301u, title.DefaultImageId);
        Assert.Equal([100301u, 100302u, 100303u], title.Images.Select(i => i.ImageId));
        Assert.All(title.Images, i => Assert.True(i.InModel));
        Assert.Equal(1.0, title.Images.Sum(i => i.Share), 6);
        var winner = title.Images.Single(i => i.ImageId == 100303);
        Assert.InRange(winner.Share, 0.85, 0.99); // 0.933 expected; 400 draws: ±0.05 is over four standard deviations
        Assert.Equal(0.9 + (0.1 / 3), winner.MeanPropensity, 5);
        Assert.Equal(winner.MinPropensity, winner.MaxPropensity, 6);
        foreach (var other in title.Images.Where(i => i.ImageId != 100303 && i.Decisions > 0))
        {
            Assert.Equal(0.1 / 3, other.MeanPropensity, 5);
        }

        var busiest = await WaitForTitles(node, "?top=5", s => s.Titles.Any(t => t.TitleId == 9999));
        Assert.Equal(1003u, busiest.Titles[0].TitleId);
        var unknown = busiest.Titles.Single(t => t.TitleId == 9999);
        Assert.Equal((1, 1), (unknown.Decisions, unknown.Fallbacks));
        Assert.Empty(unknown.Images);
        Assert.True(busiest.Decisions >= 401 && busiest.FromMs > 0 && busiest.ToMs >= busiest.FromMs);
    }

    [Fact]
    public async Task Titles_WithoutAnImpressionLog_SayThereIsNothingToSample()
    {
        await using var node = await DashboardNode.StartAsync("--EdgeSelector:LogImpressions=false");
        var sample = JsonSerializer.Deserialize(await node.Anonymous.GetByteArrayAsync("/dashboard/titles"), DashboardJsonContext.Default.TitleSample)!;
        Assert.False(sample.Enabled);
        Assert.Empty(sample.Titles);
        Assert.False((await Stats(node)).ImpressionLog.Enabled);
    }

    [Fact]
    public async Task Checkpoint_NeedsTheAdminToken()
    {
        await using var node = await DashboardNode.StartAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.Anonymous.PostAsync("/v1/checkpoint", null)).StatusCode);
        using var wrong = new HttpRequestMessage(HttpMethod.Post, "/v1/checkpoint");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-the-token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.Anonymous.SendAsync(wrong)).StatusCode);

        var before = Directory.GetFileSystemEntries(Path.Combine(node.DataDir, "profiles"), "*", SearchOption.AllDirectories).Length;
        using var response = await node.Admin.PostAsync("/v1/checkpoint", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = JsonSerializer.Deserialize(await response.Content.ReadAsByteArrayAsync(), DashboardJsonContext.Default.CheckpointResult)!;
        Assert.InRange(result.CheckpointedAtMs, DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.True(result.DurationMs >= 0);
        Assert.True(Directory.GetFileSystemEntries(Path.Combine(node.DataDir, "profiles"), "*", SearchOption.AllDirectories).Length >= before);
    }

    [Fact]
    public async Task Fleet_IsInTheStats_OnlyWhenTheNodeIsPartOfOne()
    {
        await using var node = await DashboardNode.StartAsync();
        Assert.Null((await Stats(node)).Fleet);
        node.Feed.Fleet = new FakeFleet(FakeFleet.ThreeNodes(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        var fleet = (await Stats(node)).Fleet!;
        Assert.Equal(3, fleet.Nodes.Count);
        Assert.Equal(7ul, fleet.Pointer!.Version);
        Assert.Equal("nats: connection refused", fleet.Nodes[2].ShippingError);
    }

    private static async Task<DashboardStats> Stats(DashboardNode node) =>
        JsonSerializer.Deserialize(await node.Anonymous.GetByteArrayAsync("/dashboard/stats"), DashboardJsonContext.Default.DashboardStats)!;

    // The impression log commits every few milliseconds and a sample is reused for a second: poll until it shows.
    private static async Task<TitleSample> WaitForTitles(DashboardNode node, string query, Func<TitleSample, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var sample = JsonSerializer.Deserialize(await node.Anonymous.GetByteArrayAsync("/dashboard/titles" + query), DashboardJsonContext.Default.TitleSample)!;
            if ((sample.Titles.Count > 0 && done(sample)) || DateTime.UtcNow > deadline)
            {
                return sample;
            }

            await Task.Delay(200);
        }
    }
}

/// <summary>A fleet view as the fleet wiring would hand it over.</summary>
internal sealed class FakeFleet(FleetSection section) : IFleetView
{
    public FleetSection Current => section;

    public static FleetSection ThreeNodes(long nowMs) => new()
    {
        Self = 0,
        HeartbeatIntervalMs = 5_000,
        Pointer = new FleetPointer(7, new string('a', 64), nowMs - 60_000),
        Nodes =
        [
            new FleetNode { NodeId = 0, Instance = "edge-a:101", Ready = true, AppliedVersion = 7, PointerVersion = 7, HeartbeatAtMs = nowMs - 1_000, ImpressionLagBytes = 1024 },
            new FleetNode { NodeId = 1, Instance = "edge-b:202", Ready = true, AppliedVersion = 6, PointerVersion = 7, HeartbeatAtMs = nowMs - 2_000, BundleError = "BadSignature: key id 'old'" },
            new FleetNode { NodeId = 2, Instance = "edge-c:303", Ready = false, AppliedVersion = 7, PointerVersion = 7, HeartbeatAtMs = nowMs - 120_000, RewardLagBytes = 5 << 20, ShippingError = "nats: connection refused" },
        ],
    };
}
