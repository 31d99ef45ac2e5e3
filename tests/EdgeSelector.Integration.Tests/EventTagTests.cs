using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using EdgeSelector.Client;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// Rewards cannot be forged (docs/protocol.md, "Event ids and tags"): a reward needs the tag the node returned with
/// its impression; a guessed id is refused before the duplicate filter, so it never blocks the genuine reward.
/// </summary>
public class EventTagTests
{
    private const string Secret = "fleet-secret-for-the-integration-tests";

    [Fact]
    public async Task Reward_ForgedIds_UnverifiedAndNeverBlockTheGenuineReward()
    {
        await using var server = await LiveServer.StartAsync();
        await using var client = server.Client();
        var one = await client.SelectAsync(Member(1), new TitleCandidate(1001, 0.5f, false));

        // The next id (not issued yet), a real id + 10^9, the real id without its tag or with a wrong one: all refused.
        Assert.Equal(RewardStatus.Unverified, await client.RewardAsync(new RewardRequest(one.EventId + 1, true, 30f, 0.5f)));
        Assert.Equal(RewardStatus.Unverified, await client.RewardAsync(new RewardRequest(one.EventId + 1, true, 30f, 0.5f, EventTag: one.EventTag)));
        Assert.Equal(RewardStatus.Unverified, await client.RewardAsync(new RewardRequest(one.EventId + 1_000_000_000, true, 30f, 0.5f, EventTag: one.EventTag)));
        Assert.Equal(RewardStatus.Unverified, await client.RewardAsync(new RewardRequest(one.EventId, true, 30f, 0.5f)));
        Assert.Equal(RewardStatus.Unverified, await client.RewardAsync(new RewardRequest(one.EventId, true, 30f, 0.5f, EventTag: one.EventTag ^ 1)));

        // The genuine rewards: the impression already shown, and the one issued after the forgery of its id.
        var two = await client.SelectAsync(Member(2), new TitleCandidate(1002, 0.5f, false));
        Assert.Equal(one.EventId + 1, two.EventId);
        Assert.Equal(RewardStatus.Accepted, await client.RewardAsync(RewardRequest.For(one, true, 30f, 0.5f)));
        Assert.Equal(RewardStatus.Accepted, await client.RewardAsync(RewardRequest.For(two, true, 30f, 0.5f)));
        Assert.Equal(RewardStatus.Duplicate, await client.RewardAsync(RewardRequest.For(two, true, 30f, 0.5f)));
        Assert.Matches("edgeselector_rewards_total\\{status=\"unverified\"\\} 5\n", await server.Http.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task Reward_TagFromANodeWithAnotherKey_Unverified()
    {
        await using var a = await LiveServer.StartAsync(extra: [$"--EdgeSelector:EventKey={Secret}", "--EdgeSelector:NodeId=1"]);
        await using var b = await LiveServer.StartAsync(extra: ["--EdgeSelector:EventKey=a-different-secret-entirely", "--EdgeSelector:NodeId=2"]);
        await using var clientA = a.Client();
        await using var clientB = b.Client();

        var shown = await clientA.SelectAsync(Member(1), new TitleCandidate(1001, 0.5f, false));

        Assert.Equal(RewardStatus.Unverified, await clientB.RewardAsync(RewardRequest.For(shown, true, 30f, 0.5f)));
        Assert.Equal(RewardStatus.Accepted, await clientA.RewardAsync(RewardRequest.For(shown, true, 30f, 0.5f)));
    }

    [Fact]
    public async Task Reward_TwoNodesSharingAKey_EachVerifiesTheOthersTags()
    {
        var dir = Path.Combine(Path.GetTempPath(), "es-key-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            // One node gets the secret from the environment-style key, the other from a file (with an editor's newline).
            var keyFile = Path.Combine(dir, "event.key");
            await File.WriteAllTextAsync(keyFile, Secret + "\n");
            await using var a = await LiveServer.StartAsync(extra: [$"--EdgeSelector:EventKey={Secret}", "--EdgeSelector:NodeId=1"]);
            await using var b = await LiveServer.StartAsync(extra: [$"--EdgeSelector:EventKeyFile={keyFile}", "--EdgeSelector:NodeId=2"]);
            await using var clientA = a.Client();
            await using var clientB = b.Client();

            var titles = Enumerable.Range(1001, 5).Select(t => new TitleCandidate((uint)t, 0.5f, false)).ToArray();
            var fromA = new SelectResult[titles.Length];
            var fromB = new SelectResult[titles.Length];
            await clientA.SelectPageAsync(Member(3), titles, fromA);
            await clientB.SelectPageAsync(Member(4), titles, fromB);

            Assert.Null(a.Node.NodeLocalEventKeyPath);
            Assert.NotEqual(EventIds.Node(fromA[0].EventId), EventIds.Node(fromB[0].EventId));
            foreach (var shown in fromA)
            {
                Assert.Equal(RewardStatus.Accepted, await clientB.RewardAsync(RewardRequest.For(shown, true, 30f, 0.5f)));
            }

            foreach (var shown in fromB)
            {
                Assert.Equal(RewardStatus.Accepted, await clientA.RewardAsync(RewardRequest.For(shown, true, 30f, 0.5f)));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Reward_ACopyOfANodesOwnKeyFile_GivesAnotherNodeThatKey_ADamagedCopyIsRefused()
    {
        // docs/protocol.md, "The secret and a fleet": a single node's event-tag.key (key, space, CRC) copied to another
        // node as its EventKeyFile makes the two share the first node's key; its tags issued before stay valid.
        var dataDir = Path.Combine(Path.GetTempPath(), "es-it-" + Guid.NewGuid().ToString("N"));
        var copy = Path.Combine(Path.GetTempPath(), "es-key-" + Guid.NewGuid().ToString("N"));
        try
        {
            SelectResult before;
            await using (var single = await LiveServer.StartAsync(dataDir, keepData: true))
            {
                await using var client = single.Client();
                before = await client.SelectAsync(Member(6), new TitleCandidate(1001, 0.5f, false));
                File.Copy(Assert.IsType<string>(single.Node.NodeLocalEventKeyPath), copy);
            }

            await using var a = await LiveServer.StartAsync(dataDir, extra: [$"--EdgeSelector:EventKeyFile={copy}", "--EdgeSelector:NodeId=1"]);
            await using var b = await LiveServer.StartAsync(extra: [$"--EdgeSelector:EventKeyFile={copy}", "--EdgeSelector:NodeId=2"]);
            Assert.Null(b.Node.NodeLocalEventKeyPath);
            await using var clientA = a.Client();
            await using var clientB = b.Client();
            Assert.Equal(RewardStatus.Accepted, await clientB.RewardAsync(RewardRequest.For(before, true, 30f, 0.5f)));
            var fromA = await clientA.SelectAsync(Member(7), new TitleCandidate(1002, 0.5f, false));
            var fromB = await clientB.SelectAsync(Member(8), new TitleCandidate(1003, 0.5f, false));
            Assert.Equal(RewardStatus.Accepted, await clientB.RewardAsync(RewardRequest.For(fromA, true, 30f, 0.5f)));
            Assert.Equal(RewardStatus.Accepted, await clientA.RewardAsync(RewardRequest.For(fromB, true, 30f, 0.5f)));

            // One digit of the key changed, the CRC kept: refused, never taken as a different secret.
            var text = await File.ReadAllTextAsync(copy);
            await File.WriteAllTextAsync(copy, (text[0] == '0' ? "1" : "0") + text[1..]);
            var options = new EdgeSelectorOptions { EventKeyFile = copy };
            var error = Assert.Throws<ArgumentException>(() => EventTagKeys.Load(options, dataDir, out _));
            Assert.Contains("looks like a node's event-tag.key but is damaged (checksum mismatch)", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(copy);
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task NodeLocalKey_CreatedOwnerOnly_SurvivesARestart()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "es-it-" + Guid.NewGuid().ToString("N"));
        SelectResult shown;
        string keyPath;
        try
        {
            await using (var server = await LiveServer.StartAsync(dataDir, keepData: true))
            {
                await using var client = server.Client();
                shown = await client.SelectAsync(Member(5), new TitleCandidate(1001, 0.5f, false));
                keyPath = Assert.IsType<string>(server.Node.NodeLocalEventKeyPath);
            }

            Assert.Equal(Path.Combine(Path.GetFullPath(dataDir), EventTagKeys.NodeLocalFileName), keyPath);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
            }

            var key = await File.ReadAllTextAsync(keyPath);
            await using (var server = await LiveServer.StartAsync(dataDir))
            {
                await using var client = server.Client();
                Assert.Equal(key, await File.ReadAllTextAsync(keyPath));
                Assert.Equal(RewardStatus.Accepted, await client.RewardAsync(RewardRequest.For(shown, true, 30f, 0.5f)));
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

    [Fact]
    public async Task AdminJson_EventTagAsDecimalString_RequiredForTheReward()
    {
        await using var server = await LiveServer.StartAsync();
        var select = await server.Http.PostAsync("/v1/select", new StringContent("{\"memberId\":1,\"titles\":[{\"titleId\":1001},{\"titleId\":1002}]}"));
        Assert.Equal(HttpStatusCode.OK, select.StatusCode);
        using var answer = JsonDocument.Parse(await select.Content.ReadAsStringAsync());
        var first = answer.RootElement.GetProperty("results")[0];
        var eventId = first.GetProperty("eventId").GetString()!;
        var eventTag = first.GetProperty("eventTag").GetString()!;
        Assert.Equal(server.Node.EventTags.Tag(ulong.Parse(eventId, CultureInfo.InvariantCulture)), ulong.Parse(eventTag, CultureInfo.InvariantCulture));

        async Task<(HttpStatusCode, string)> Reward(string fields)
        {
            using var response = await server.Http.PostAsync("/v1/rewards", new StringContent($"{{\"rewards\":[{{{fields},\"playStarted\":true,\"minutesWatched\":5}}]}}", Encoding.UTF8));
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        Assert.Equal((HttpStatusCode.OK, "{\"statuses\":[\"unverified\"]}"), await Reward($"\"eventId\":\"{eventId}\""));
        Assert.Equal((HttpStatusCode.OK, "{\"statuses\":[\"unverified\"]}"), await Reward($"\"eventId\":\"{eventId}\",\"eventTag\":\"12345\""));
        Assert.Equal(HttpStatusCode.BadRequest, (await Reward($"\"eventId\":\"{eventId}\",\"eventTag\":\"-1\"")).Item1);
        var (outOfRange, why) = await Reward($"\"eventId\":\"{eventId}\",\"eventTag\":\"{eventTag}\",\"fractionCompleted\":1.5");
        Assert.Equal(HttpStatusCode.BadRequest, outOfRange);
        Assert.Contains("fractionCompleted in [0, 1] (got 5 and 1.5)", why, StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.OK, "{\"statuses\":[\"accepted\"]}"), await Reward($"\"eventId\":\"{eventId}\",\"eventTag\":\"{eventTag}\""));
    }

    [Theory]
    [InlineData(-3f, 0.5f)]
    [InlineData(30f, 1.5f)]
    public async Task Reward_MinutesOrFractionOutOfRange_InvalidField_NothingRecorded_TheConnectionStays(float minutes, float fraction)
    {
        await using var server = await LiveServer.StartAsync();
        await using var client = server.Client();
        var shown = await client.SelectAsync(Member(9), new TitleCandidate(1001, 0.5f, false));

        var refused = await Assert.ThrowsAsync<EdgeSelectorProtocolException>(() => client.RewardAsync(RewardRequest.For(shown, true, minutes, fraction)));

        Assert.Equal(ErrorCode.InvalidField, refused.Code);
        Assert.Equal(78ul, await client.PingAsync(78)); // the connection stays
        // Nothing was recorded: the event id is not remembered, so the corrected reward is the first one.
        Assert.Equal(RewardStatus.Accepted, await client.RewardAsync(RewardRequest.For(shown, true, 30f, 0.5f)));
    }

    [Fact]
    public async Task SelectPage_DefaultLimit_256TitlesAnswered_257Refused()
    {
        // docs/protocol.md#limits, the README and the server's options agree: 256 titles per page by default.
        await using var server = await LiveServer.StartAsync();
        await using var client = new EdgeSelectorClient(new EdgeSelectorClientOptions
        {
            EndPoint = server.BinaryEndPoint,
            RequestTimeout = TimeSpan.FromSeconds(30),
            Protocol = new ProtocolOptions { MaxTitlesPerPage = 300 },
        });
        var titles = Enumerable.Range(0, 257).Select(i => new TitleCandidate((uint)(1001 + (i % 12)), 0.5f, false)).ToArray();
        var results = new SelectResult[titles.Length];

        Assert.Equal(ProtocolOptions.Default.MaxTitlesPerPage, server.Node.Options.MaxTitlesPerPage);
        Assert.Equal(256, await client.SelectPageAsync(Member(6), titles.AsMemory(0, 256), results));
        Assert.Equal(256, results.Take(256).Select(r => r.EventId).Distinct().Count());
        var refused = await Assert.ThrowsAsync<EdgeSelectorProtocolException>(() => client.SelectPageAsync(Member(6), titles, results));
        Assert.Equal(ErrorCode.TooManyTitles, refused.Code);
    }

    [Theory]
    [InlineData(float.NaN, "US")]
    [InlineData(1.5f, "US")]
    [InlineData(0.5f, "U1")]
    public async Task Select_BadGenreOrCountry_InvalidField(float affinity, string country)
    {
        await using var server = await LiveServer.StartAsync();
        await using var client = server.Client();
        var context = Member(7);
        context.Country = (ushort)((country[0] << 8) | country[1]);
        context.SetGenres([0.2f, affinity]);

        var refused = await Assert.ThrowsAsync<EdgeSelectorProtocolException>(() => client.SelectAsync(context, new TitleCandidate(1001, 0.5f, false)));

        Assert.Equal(ErrorCode.InvalidField, refused.Code);
        Assert.Equal(77ul, await client.PingAsync(77)); // the connection stays
    }
}
