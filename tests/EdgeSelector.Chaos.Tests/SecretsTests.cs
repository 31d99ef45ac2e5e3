using System.Globalization;
using System.Net;
using EdgeSelector.Chaos.Tests.Infrastructure;

namespace EdgeSelector.Chaos.Tests;

/// <summary>
/// docs/security.md against a running node: secrets passed in the environment are not in the process list, the node
/// never prints them (output, /metrics, the dashboard's JSON), and the admin API refuses every call without the token.
/// </summary>
[Collection(SharedNode.Collection)]
public sealed class SecretsTests(SharedNode fixture)
{
    private static readonly string[] Secrets = [ChaosNode.Token, ChaosNode.BundleKey];

    [Fact]
    public async Task Secrets_NotInTheProcessList_NorInAnythingTheNodeShows()
    {
        var node = fixture.Chaos;
        var cmdline = (await File.ReadAllTextAsync($"/proc/{node.ProcessId.ToString(CultureInfo.InvariantCulture)}/cmdline")).Replace('\0', ' ');
        Assert.Contains("edgeselector.dll", cmdline, StringComparison.Ordinal);
        var shown = new Dictionary<string, string>
        {
            ["the process list"] = cmdline,
            ["the node's output"] = node.Output,
            ["/metrics"] = await node.Http.GetStringAsync("/metrics"),
            ["/dashboard/stats"] = await node.Http.GetStringAsync("/dashboard/stats"),
            ["/readyz"] = await node.Http.GetStringAsync("/readyz"),
        };
        foreach (var (where, text) in shown)
        {
            foreach (var secret in Secrets)
            {
                Assert.False(text.Contains(secret, StringComparison.Ordinal), $"a secret shows in {where}");
            }
        }
    }

    [Theory]
    [InlineData("GET", "/v1/models", null)]
    [InlineData("PUT", "/v1/models", null)]
    [InlineData("POST", "/v1/models/rollback", null)]
    [InlineData("PUT", "/v1/profiles", "{\"profiles\":[]}")]
    [InlineData("POST", "/v1/select", "{\"memberId\":1,\"titles\":[{\"titleId\":1001}]}")]
    [InlineData("POST", "/v1/rewards", "{\"rewards\":[]}")]
    [InlineData("POST", "/v1/checkpoint", null)]
    public async Task AdminCalls_WithoutOrWithAWrongToken_AreRefused401(string method, string path, string? body)
    {
        using var anonymous = new HttpClient { BaseAddress = fixture.Chaos.Http.BaseAddress };
        foreach (var token in new[] { null, "wrong", ChaosNode.Token + "x", ChaosNode.Token[..^1] })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = body is null ? null : new StringContent(body) };
            if (token is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            }

            using var response = await anonymous.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }
}
