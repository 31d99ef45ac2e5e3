using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeSelector.Core.Features;
using EdgeSelector.Protocol;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// A reward is answered "accepted" only once the reward log's commit holds it, without stalling the requests
/// pipelined behind it (answers may come out of order, docs/protocol.md#transport). The kill -9 proof is in
/// ImpressionPathTests.
/// </summary>
public class RewardDurabilityTests
{
    [Fact]
    public async Task Reward_PipelinedBeforeASelect_SelectAnsweredFirst_RewardOnceDurable()
    {
        // A slow group commit (1.5 s) makes the order visible: the SELECT must not wait for it.
        await using var server = await LiveServer.StartAsync(extra: "--EdgeSelector:LogCommitIntervalMs=1500");
        await using var client = server.Client();
        var impression = await client.SelectAsync(Member(1), new TitleCandidate(1001, 0.5f, false));

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(server.BinaryEndPoint);
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.WriteReward(writer, 1, RewardRequest.For(impression, true, 30f, 0.8f));
        var select = Member(2);
        FrameWriter.WriteSelect(writer, 2, in select, new TitleCandidate(1002, 0.5f, false));
        await socket.SendAsync(writer.WrittenMemory); // one write: both in one batch

        var first = await ReadFrameAsync(socket);
        Assert.Equal((byte)Opcode.SelectResult, first[5]);
        Assert.Equal(2ul, BitConverter.ToUInt64(first, 8));

        var second = await ReadFrameAsync(socket);
        Assert.Equal((byte)Opcode.RewardResult, second[5]);
        Assert.Equal(1ul, BitConverter.ToUInt64(second, 8));
        var log = server.Node.Stores.Rewards;
        Assert.True(log.CommittedUntilAddress >= log.TailAddress, "answered before the commit that holds the reward");

        // A duplicate is "already recorded": also answered once durable, at once here.
        Assert.Equal(RewardStatus.Duplicate, await client.RewardAsync(RewardRequest.For(impression, true, 30f, 0.8f)));
    }

    [Fact]
    public async Task RewardsOverHttp_Answered200_OnlyOnceDurable()
    {
        await using var server = await LiveServer.StartAsync(extra: "--EdgeSelector:LogCommitIntervalMs=1000");
        await using var client = server.Client();
        var impression = await client.SelectAsync(Member(1), new TitleCandidate(1003, 0.5f, false));
        var body = $"{{\"rewards\":[{{\"eventId\":\"{impression.EventId}\",\"eventTag\":\"{impression.EventTag}\",\"playStarted\":true,\"minutesWatched\":12,\"fractionCompleted\":0.3}}]}}";
        var response = await server.Http.PostAsync("/v1/rewards", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var log = server.Node.Stores.Rewards;
        Assert.True(log.CommittedUntilAddress >= log.TailAddress, "answered before the commit that holds the reward");
        Assert.Contains("accepted", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RewardsOverHttp_BadEventIdLater_RecordsNothing()
    {
        await using var server = await LiveServer.StartAsync();
        await using var client = server.Client();
        var impression = await client.SelectAsync(Member(1), new TitleCandidate(1004, 0.5f, false));
        var tail = server.Node.Stores.Rewards.TailAddress;
        var body = $"{{\"rewards\":[{{\"eventId\":\"{impression.EventId}\",\"eventTag\":\"{impression.EventTag}\",\"playStarted\":true}},{{\"eventId\":\"not-a-number\",\"playStarted\":true}}]}}";
        var response = await server.Http.PostAsync("/v1/rewards", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(tail, server.Node.Stores.Rewards.TailAddress);
        Assert.Equal(RewardStatus.Accepted, await client.RewardAsync(RewardRequest.For(impression, true, 1f, 0.1f)));
    }

    private static async Task<byte[]> ReadFrameAsync(Socket socket)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var header = new byte[16];
        await ReadExactlyAsync(socket, header, cts.Token);
        var frame = new byte[BitConverter.ToInt32(header, 0)];
        header.CopyTo(frame, 0);
        await ReadExactlyAsync(socket, frame.AsMemory(16), cts.Token);
        return frame;
    }

    private static async Task ReadExactlyAsync(Socket socket, Memory<byte> into, CancellationToken cancel)
    {
        while (!into.IsEmpty)
        {
            var n = await socket.ReceiveAsync(into, SocketFlags.None, cancel);
            Assert.True(n > 0, "closed early");
            into = into[n..];
        }
    }
}
