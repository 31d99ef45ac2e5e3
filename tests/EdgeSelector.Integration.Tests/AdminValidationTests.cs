using System.Net;
using System.Text;
using EdgeSelector.Core.Features;
using EdgeSelector.Protocol;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// JSON null where the admin API expects a list or an object is the sender's error: 400 with a reason, never a 500,
/// and nothing recorded (issue #10.7; docs/admin-api.md).
/// </summary>
public class AdminValidationTests
{
    [Theory]
    [InlineData("/v1/select", """{"memberId":1,"hour":21,"dayOfWeek":5,"titles":null}""")]
    [InlineData("/v1/select", """{"memberId":1,"hour":21,"dayOfWeek":5,"titles":[null]}""")]
    [InlineData("/v1/select", """{"memberId":1,"hour":21,"dayOfWeek":5,"titles":[{"titleId":1001,"score":0.5,"interacted":false},null]}""")]
    [InlineData("/v1/rewards", """{"rewards":null}""")]
    [InlineData("/v1/rewards", """{"rewards":[null]}""")]
    public async Task Post_NullListOrElement_Answers400(string path, string body)
    {
        await using var server = await LiveServer.StartAsync();
        var rewardTail = server.Node.Stores.Rewards.TailAddress;

        var response = await server.Http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("null", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(rewardTail, server.Node.Stores.Rewards.TailAddress);
    }

    [Theory]
    [InlineData("""{"profiles":null}""")]
    [InlineData("""{"profiles":[null]}""")]
    public async Task PutProfiles_NullListOrElement_Answers400(string body)
    {
        await using var server = await LiveServer.StartAsync();

        var response = await server.Http.PutAsync("/v1/profiles", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("null", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostRewards_NullRewardAfterAGoodOne_RecordsNothing_AndTheGoodOneIsStillAcceptedLater()
    {
        await using var server = await LiveServer.StartAsync();
        await using var client = server.Client();
        var context = new RequestContext { MemberId = 7, Country = CountryCode.Pack("US"), HourOfDay = 21, DayOfWeek = 5 };
        var shown = await client.SelectAsync(context, new TitleCandidate(1001, 0.5f, false));
        var tail = server.Node.Stores.Rewards.TailAddress;
        var body = $$"""{"rewards":[{"eventId":"{{shown.EventId}}","eventTag":"{{shown.EventTag}}","playStarted":true},null]}""";

        var response = await server.Http.PostAsync("/v1/rewards", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(tail, server.Node.Stores.Rewards.TailAddress);
        Assert.Equal(RewardStatus.Accepted, await client.RewardAsync(RewardRequest.For(shown, true, 3f, 0.1f)));
    }
}
