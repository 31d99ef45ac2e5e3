using System.Net;
using System.Text;
using System.Text.Json;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// Malformed admin bodies are 400s that name the field (they were 500s), and a rewards batch refused with 400 records
/// none of its rewards (issue 10, item 7; docs/admin-api.md).
/// </summary>
public sealed class AdminValidationTests(AdminValidationTests.SharedServer shared) : IClassFixture<AdminValidationTests.SharedServer>
{
    [Theory]
    [InlineData("/v1/select", "{\"memberId\":1,\"titles\":null}", "titles")]
    [InlineData("/v1/select", "{\"memberId\":1,\"titles\":[null]}", "titles[0]")]
    [InlineData("/v1/select", "{\"memberId\":1,\"titles\":[{\"titleId\":1001},null]}", "titles[1]")]
    [InlineData("/v1/select", "null", "empty body")]
    [InlineData("/v1/select", "[null]", "invalid JSON")]
    [InlineData("/v1/rewards", "{\"rewards\":null}", "rewards")]
    [InlineData("/v1/rewards", "{\"rewards\":[null]}", "rewards[0]")]
    [InlineData("/v1/rewards", "{\"rewards\":[{\"eventId\":null}]}", "rewards[0].eventId")]
    [InlineData("/v1/rewards", "{\"rewards\":[{\"eventId\":\"12x\"}]}", "rewards[0].eventId")]
    [InlineData("/v1/rewards", "[null]", "invalid JSON")]
    public async Task MalformedBody_Is400NamingTheField(string path, string body, string field)
    {
        var response = await shared.Server.Http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        using var json = JsonDocument.Parse(text);
        Assert.Contains(field, json.RootElement.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("{\"profiles\":null}", "profiles")]
    [InlineData("{\"profiles\":[null]}", "profiles[0]")]
    [InlineData("{\"profiles\":[{\"memberId\":5,\"country\":\"US\"},null]}", "profiles[1]")]
    [InlineData("[null]", "invalid JSON")]
    public async Task MalformedProfileBatch_Is400NamingTheField_AndStoresNothing(string body, string field)
    {
        await using var server = await LiveServer.StartAsync(demo: false);
        var response = await server.Http.PutAsync("/v1/profiles", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        Assert.Contains(field, text);
        Assert.False(server.Node.Stores.Profiles.TryGet(5, out _));
    }

    [Fact]
    public async Task RewardBatch_With_A_BadEntry_Is400_AndRecordsNothing()
    {
        await using var server = await LiveServer.StartAsync();
        var select = await server.Http.PostAsync("/v1/select", new StringContent("{\"memberId\":1,\"titles\":[{\"titleId\":1001}]}"));
        using var selected = JsonDocument.Parse(await select.Content.ReadAsStringAsync());
        var eventId = selected.RootElement.GetProperty("results")[0].GetProperty("eventId").GetString();
        var eventTag = selected.RootElement.GetProperty("results")[0].GetProperty("eventTag").GetString();

        var bad = $"{{\"rewards\":[{{\"eventId\":\"{eventId}\",\"eventTag\":\"{eventTag}\",\"playStarted\":true}},{{\"eventId\":\"not-a-number\"}}]}}";
        var refused = await server.Http.PostAsync("/v1/rewards", new StringContent(bad));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("rewards[1]", await refused.Content.ReadAsStringAsync());

        // Had the first reward been recorded, this would be a "duplicate".
        var good = await server.Http.PostAsync("/v1/rewards", new StringContent($"{{\"rewards\":[{{\"eventId\":\"{eventId}\",\"eventTag\":\"{eventTag}\",\"playStarted\":true}}]}}"));
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Contains("\"accepted\"", await good.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Health_And_Readiness_AreJson_WithStatusAndConditions()
    {
        await using (var empty = await LiveServer.StartAsync(demo: false))
        {
            var ready = await empty.Anonymous.GetAsync("/readyz");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            using var body = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
            Assert.False(body.RootElement.GetProperty("ready").GetBoolean());
            Assert.Contains("no model bundle", body.RootElement.GetProperty("reason").GetString());
            using var health = JsonDocument.Parse(await empty.Anonymous.GetStringAsync("/healthz"));
            Assert.Equal("not_ready", health.RootElement.GetProperty("status").GetString());
        }

        await using var server = await LiveServer.StartAsync();
        // MinThreadPoolThreads (default 16) raised the pool's floor: the runtime's own is one thread per core.
        ThreadPool.GetMinThreads(out var workers, out var io);
        Assert.True(workers >= 16 && io >= 16, $"thread-pool floor {workers} workers, {io} I/O threads");
        using (var ready = JsonDocument.Parse(await server.Anonymous.GetStringAsync("/readyz")))
        {
            Assert.True(ready.RootElement.GetProperty("ready").GetBoolean());
            Assert.Equal(12, ready.RootElement.GetProperty("titles").GetInt32());
        }

        var metrics = await server.Anonymous.GetStringAsync("/metrics");
        Assert.Matches("edgeselector_reward_log_lag_bytes [0-9]+\n", metrics);
        Assert.Contains("edgeselector_log_commit_healthy{log=\"rewards\"} 1", metrics);
        Assert.Matches("edgeselector_log_commit_duration_seconds_bucket\\{log=\"rewards\",le=\"\\+Inf\"\\} [0-9]+\n", metrics);
        Assert.Matches("edgeselector_log_commit_duration_seconds_count\\{log=\"impressions\"\\} [0-9]+\n", metrics);
        Assert.Matches("edgeselector_log_commit_duration_max_seconds\\{log=\"rewards\"\\} [0-9.e+-]+\n", metrics);
        Assert.Contains("edgeselector_ready 1", metrics);
    }

    /// <summary>One demo node for the body checks, which change nothing.</summary>
    public sealed class SharedServer : IAsyncLifetime
    {
        internal LiveServer Server { get; private set; } = null!;

        public async Task InitializeAsync() => Server = await LiveServer.StartAsync();

        public async Task DisposeAsync() => await Server.DisposeAsync();
    }
}
