using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeSelector.Client;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Models;
using EdgeSelector.Protocol;

namespace EdgeSelector.Integration.Tests;

/// <summary>The node over real loopback sockets: binary protocol, admin API, stores, fallbacks.</summary>
public class ServerTests
{
    // Tests that assert which image wins run greedy: under ε-greedy the sticky draw of (member, title, window) explores
    // in about ε of the stickiness windows, so such an assertion would fail on some days and pass on others.
    private static readonly string[] Greedy = ["--EdgeSelector:Policy=Greedy"];

    [Fact]
    public async Task Select_Page_Reward_Ping_RoundTrip()
    {
        await using var server = await LiveServer.StartAsync(extra: Greedy);
        await using var client = server.Client();

        Assert.Equal(77ul, await client.PingAsync(77));

        var one = await client.SelectAsync(Member(1), new TitleCandidate(1001, 0.9f, false));
        Assert.Equal(1001u, one.TitleId);
        Assert.Equal(FallbackReason.None, one.Reason);
        Assert.Equal(100102u, one.ImageId); // member 1 is the demo's comedy fan: the comedy artwork
        Assert.InRange(one.Propensity, 0.5f, 1f);
        Assert.Equal(1ul, one.ModelVersion);
        Assert.NotEqual(0ul, one.EventId);

        var titles = Enumerable.Range(1001, 12).Select(t => new TitleCandidate((uint)t, 0.5f, false)).ToArray();
        var results = new SelectResult[titles.Length];
        Assert.Equal(12, await client.SelectPageAsync(Member(2), titles, results));
        Assert.All(results, r => Assert.Equal(FallbackReason.None, r.Reason));
        Assert.Equal(titles.Select(t => t.TitleId), results.Select(r => r.TitleId));
        Assert.Equal(12, results.Select(r => r.EventId).Distinct().Count());

        Assert.NotEqual(0ul, one.EventTag);
        Assert.Equal(RewardStatus.Accepted, await client.RewardAsync(RewardRequest.For(one, true, 42f, 0.5f)));
        Assert.Equal(RewardStatus.Duplicate, await client.RewardAsync(RewardRequest.For(one, true, 42f, 0.5f)));
        var old = new RewardRequest(12345, true, 1f, 0.1f, EventTag: server.Node.EventTags.Tag(12345)); // tagged, but issued in 2020
        Assert.Equal(RewardStatus.UnknownEvent, await client.RewardAsync(old));
    }

    [Fact]
    public async Task Select_SameMemberTwice_IsSticky()
    {
        await using var server = await LiveServer.StartAsync();
        await using var client = server.Client();
        for (ulong m = 100; m < 150; m++)
        {
            var a = await client.SelectAsync(Member(m), new TitleCandidate(1002, 0.5f, false));
            var b = await client.SelectAsync(Member(m), new TitleCandidate(1002, 0.5f, false));
            Assert.Equal(a.ImageId, b.ImageId);
            Assert.NotEqual(a.EventId, b.EventId);
        }
    }

    [Fact]
    public async Task Pipelining_1000RequestsInFlightOnOneConnection_AllAnsweredAndMatched()
    {
        await using var server = await LiveServer.StartAsync();
        await using var client = server.Client(connections: 1);
        var tasks = new Task<SelectResult>[1000];
        for (var i = 0; i < tasks.Length; i++)
        {
            tasks[i] = client.SelectAsync(Member((ulong)(i % 50) + 1), new TitleCandidate((uint)(1001 + (i % 12)), 0.5f, false));
        }

        var results = await Task.WhenAll(tasks);
        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal((uint)(1001 + (i % 12)), results[i].TitleId);
            Assert.Equal(FallbackReason.None, results[i].Reason);
        }
    }

    [Fact]
    public async Task ModelPush_IsSeenByTheNextSelect_AndRollbackRestoresTheOldModel()
    {
        await using var server = await LiveServer.StartAsync(extra: Greedy);
        await using var client = server.Client();
        var before = await client.SelectAsync(Member(1), new TitleCandidate(1003, 0.5f, false));
        Assert.Equal(1ul, before.ModelVersion);

        // Version 2: title 1003's third image scores far above the others for everyone.
        var bundle = Bundle(2, TitleWithWinner(1003, version: 2, winner: 100303));
        var push = await server.Http.PutAsync("/v1/models", new ByteArrayContent(bundle));
        Assert.Equal(HttpStatusCode.OK, push.StatusCode);

        var after = await client.SelectAsync(Member(1), new TitleCandidate(1003, 0.5f, false));
        Assert.Equal(2ul, after.ModelVersion);
        Assert.Equal(100303u, after.ImageId);
        // A partial bundle (Full = false) keeps the other titles of version 1.
        Assert.Equal(FallbackReason.None, (await client.SelectAsync(Member(1), new TitleCandidate(1001, 0.5f, false))).Reason);

        // An older version is refused unless forced.
        var stale = await server.Http.PutAsync("/v1/models", new ByteArrayContent(Bundle(1, TitleWithWinner(1003, 1, 100301))));
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Equal(2ul, server.Node.Stores.Models.Version);

        var rollback = await server.Http.PostAsync("/v1/models/rollback", null);
        Assert.Equal(HttpStatusCode.OK, rollback.StatusCode);
        var rolledBack = await client.SelectAsync(Member(1), new TitleCandidate(1003, 0.5f, false));
        Assert.Equal(1ul, rolledBack.ModelVersion);
        Assert.Equal(before.ImageId, rolledBack.ImageId);
    }

    [Fact]
    public async Task CorruptOrUnsignedBundle_IsRefused_AndTheOldModelsStayServed()
    {
        await using var server = await LiveServer.StartAsync();
        await using var client = server.Client();
        var good = Bundle(5, TitleWithWinner(1003, 5, 100302));

        var tampered = (byte[])good.Clone();
        tampered[good.Length / 2] ^= 0x40;
        var unsigned = ModelBundle.Write(new BundleManifest { Version = 5, Full = false }, [TitleWithWinner(1003, 5, 100302)], []);
        var wrongKey = ModelBundle.Write(new BundleManifest { Version = 5, Full = false }, [TitleWithWinner(1003, 5, 100302)], Encoding.UTF8.GetBytes("not-the-key"));
        foreach (var bad in new[] { tampered, unsigned, wrongKey, Encoding.UTF8.GetBytes("garbage") })
        {
            var response = await server.Http.PutAsync("/v1/models", new ByteArrayContent(bad));
            Assert.False(response.IsSuccessStatusCode);
            Assert.Contains("error", await response.Content.ReadAsStringAsync());
            Assert.Equal(1ul, server.Node.Stores.Models.Version);
            var result = await client.SelectAsync(Member(1), new TitleCandidate(1003, 0.5f, false));
            Assert.Equal(1ul, result.ModelVersion);
            Assert.Equal(FallbackReason.None, result.Reason);
        }
    }

    [Fact]
    public async Task AdminCalls_WithoutTheToken_AreRefused()
    {
        await using var server = await LiveServer.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await server.Anonymous.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Anonymous.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Anonymous.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Anonymous.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Anonymous.PostAsync("/v1/models/rollback", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Anonymous.PutAsync("/v1/models", new ByteArrayContent(Bundle(9, TitleWithWinner(1003, 9, 100301))))).StatusCode);
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        wrong.Headers.Authorization = new("Bearer", "wrong-token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Anonymous.SendAsync(wrong)).StatusCode);
        Assert.Equal(1ul, server.Node.Stores.Models.Version);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("/v1/models")).StatusCode);
    }

    [Fact]
    public async Task Restart_RecoversModelsAndProfilesFromCheckpoints()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "es-it-restart-" + Guid.NewGuid().ToString("N"));
        try
        {
            SelectResult before;
            await using (var server = await LiveServer.StartAsync(dataDir, keepData: true, extra: Greedy))
            {
                await server.Http.PutAsync("/v1/models", new ByteArrayContent(Bundle(3, TitleWithWinner(1005, 3, 100503))));
                var profile = "{\"profiles\":[{\"memberId\":777777,\"country\":\"FR\",\"language\":\"FR\",\"device\":\"phone\",\"genres\":{\"horror\":1.0}}]}";
                var put = await server.Http.PutAsync("/v1/profiles", new StringContent(profile, Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.OK, put.StatusCode);
                await using var client = server.Client();
                before = await client.SelectAsync(Member(777777), new TitleCandidate(1001, 0.5f, false));
                Assert.Equal(FallbackReason.None, before.Reason);
            }

            // No demo seeding, no control plane: everything comes back from the data directory.
            await using (var server = await LiveServer.StartAsync(dataDir, demo: false, extra: Greedy))
            {
                Assert.Equal(3ul, server.Node.Stores.Models.Version);
                Assert.Equal(12, server.Node.Stores.Models.TitleCount);
                Assert.True(server.Node.Stores.Profiles.TryGet(777777, out var profile));
                Assert.Equal(CountryCode.Pack("FR"), profile.Country);
                Assert.Equal(1f, profile.Genres[Genres.IndexOf("horror")]);
                await using var client = server.Client();
                var after = await client.SelectAsync(Member(777777), new TitleCandidate(1001, 0.5f, false));
                Assert.Equal(FallbackReason.None, after.Reason);
                Assert.Equal(before.ImageId, after.ImageId);
                Assert.Equal(100503u, (await client.SelectAsync(Member(1), new TitleCandidate(1005, 0.5f, false))).ImageId);
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
    public async Task OversizedAndGarbageFrames_CloseOnlyTheirConnection()
    {
        await using var server = await LiveServer.StartAsync(extra: "--EdgeSelector:MaxFrameBytes=4096");
        await using var healthy = server.Client();
        Assert.Equal(1ul, await healthy.PingAsync(1));

        // Oversized: a header announcing 1 MB. Garbage: an HTTP request on the binary port.
        var oversized = new byte[16];
        BitConverter.TryWriteBytes(oversized.AsSpan(0, 4), 1 << 20);
        oversized[4] = 1;
        oversized[5] = (byte)Opcode.Ping;
        foreach (var (bytes, expected) in new[] { (oversized, ErrorCode.FrameTooLarge), (Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ErrorCode.UnsupportedVersion) })
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(server.BinaryEndPoint);
            await socket.SendAsync(bytes);
            var answer = await ReadUntilClosed(socket);
            Assert.True(answer.Length >= 16, "an ERROR frame comes before the close");
            Assert.Equal((byte)Opcode.Error, answer[5]);
            var payload = new System.Buffers.ReadOnlySequence<byte>(answer.AsMemory(16, BitConverter.ToInt32(answer, 0) - 16));
            Assert.Equal(ErrorCode.None, PayloadReader.ReadError(payload, out var code, out _));
            Assert.Equal(expected, code);
        }

        // A well-formed frame with a bad payload: ERROR, and the connection stays.
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync(server.BinaryEndPoint);
            var bad = new byte[20];
            BitConverter.TryWriteBytes(bad.AsSpan(0, 4), 20);
            bad[4] = 1;
            bad[5] = (byte)Opcode.Select;
            bad[8] = 9;
            bad[16] = 0xC1; // never used in MessagePack
            await socket.SendAsync(bad);
            var writer = new System.Buffers.ArrayBufferWriter<byte>();
            FrameWriter.WritePing(writer, 10, 5);
            await socket.SendAsync(writer.WrittenMemory);
            var buffer = new byte[256];
            var read = 0;
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (read < 16 + 16 && DateTime.UtcNow < deadline)
            {
                read += await socket.ReceiveAsync(buffer.AsMemory(read));
            }

            Assert.Equal((byte)Opcode.Error, buffer[5]);
            Assert.Equal(9ul, BitConverter.ToUInt64(buffer, 8));
        }

        Assert.Equal(2ul, await healthy.PingAsync(2));
        var still = await healthy.SelectAsync(Member(1), new TitleCandidate(1001, 0.5f, false));
        Assert.Equal(FallbackReason.None, still.Reason);
    }

    /// <summary>A partial bundle signed with the integration key (<see cref="TestBundles.Partial"/>).</summary>
    internal static byte[] Bundle(ulong version, params byte[][] models) => TestBundles.Partial(version, LiveServer.BundleKey, models);

    /// <summary><see cref="TestBundles.TitleWithWinner"/>, by the name the integration tests call it.</summary>
    internal static byte[] TitleWithWinner(uint titleId, ulong version, uint winner) => TestBundles.TitleWithWinner(titleId, version, winner);

    private static async Task<byte[]> ReadUntilClosed(Socket socket) =>
        await Sockets.ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(10)) ?? throw new TimeoutException("the server did not close the connection within 10 s");
}
