using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CsCheck;
using EdgeSelector.Chaos.Tests.Infrastructure;
using EdgeSelector.Protocol;
using Xunit.Abstractions;

namespace EdgeSelector.Chaos.Tests.Fuzz;

/// <summary>
/// The parsers inside a running node, through its ports: the admin API's JSON bodies and bundles
/// (docs/admin-api.md: a 2xx, or a 4xx/503 with <c>{"error": …}</c>, never a 500, never a hang), and damaged binary
/// frames and RESP commands on fresh connections (answers are well-formed, the connection ends, the process lives),
/// while a well-behaved client beside them is answered all along. One node for the collection (<see cref="SharedNode"/>).
/// </summary>
[Collection(SharedNode.Collection)]
public sealed class ServerFuzzTests(SharedNode fixture, ITestOutputHelper output)
{
    private const string Profiles = """{"profiles":[{"memberId":7000001,"country":"US","language":"EN","device":"tv","genres":{"comedy":0.8,"drama":0.1}}]}""";
    private const string Select = """{"memberId":1,"country":"US","language":"EN","device":"tv","hour":21,"dayOfWeek":5,"genres":{"comedy":0.5},"timestampMs":1764300000000,"titles":[{"titleId":1001,"score":0.8,"interacted":false},{"titleId":1002}]}""";
    private const string Rewards = """{"rewards":[{"eventId":"4503599627370497","eventTag":"1234567890123","playStarted":true,"minutesWatched":42,"fractionCompleted":0.4},{"eventId":"1","playStarted":false}]}""";

    [Theory]
    [InlineData("PUT", "/v1/profiles", Profiles)]
    [InlineData("POST", "/v1/select", Select)]
    [InlineData("POST", "/v1/rewards", Rewards)]
    public async Task AdminJsonBodies_AnsweredWithADocumentedStatus_NeverA500(string method, string path, string valid)
    {
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        using var beside = WellBehaved.Start(fixture.Chaos);
        await Fuzz.RunAsync(JsonMutations.Of(valid), body => statuses.AddOrUpdate(Send(method, path, body, "application/json"), 1, (_, n) => n + 1),
            iterations: ChaosBudget.AdminBodies, print: b => Encoding.UTF8.GetString(b));
        output.WriteLine($"{method} {path}: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key} x{s.Value}")));
        await beside.StopAndCheckAsync();
        await fixture.Chaos.WaitReadyAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task DamagedBundles_RefusedWithADocumentedStatus_NeverA500()
    {
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var valid = Traffic.Bundle(1_000_000);
        await Fuzz.RunAsync(Fuzz.Mutations(Gen.Const(valid)), bundle => statuses.AddOrUpdate(Send("PUT", "/v1/models", bundle, "application/octet-stream"), 1, (_, n) => n + 1),
            iterations: ChaosBudget.AdminBodies, print: Fuzz.Hex);
        output.WriteLine("PUT /v1/models: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key} x{s.Value}")));
        await fixture.Chaos.WaitReadyAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task DamagedFrames_OnTheBinaryPort_WellFormedAnswers_ConnectionEnds_NodeLives()
    {
        using var beside = WellBehaved.Start(fixture.Chaos);
        var valid = new ArrayBufferWriter<byte>();
        var member = Traffic.Member(3);
        FrameWriter.WriteSelectPage(valid, 1, in member, Traffic.Page);
        FrameWriter.WriteReward(valid, 2, new RewardRequest(4503599627370497, true, 1f, 0.5f, 0, 77));
        FrameWriter.WritePing(valid, 3, 3);
        await Fuzz.RunAsync(Gen.OneOf(Fuzz.Mutations(Gen.Const(valid.WrittenSpan.ToArray())), Gen.Byte.Array[0, 100]), bytes =>
        {
            var answer = Exchange(fixture.Chaos.BinaryPort, bytes);
            var sequence = new ReadOnlySequence<byte>(answer);
            while (FrameReader.TryReadFrame(ref sequence, new ProtocolOptions(), out var frame, out var error))
            {
                Assert.True(frame.Opcode is Opcode.SelectResult or Opcode.SelectPageResult or Opcode.RewardResult or Opcode.Pong or Opcode.Error, $"answer opcode {frame.Opcode}");
                if (frame.Opcode == Opcode.Error)
                {
                    Assert.Equal(ErrorCode.None, PayloadReader.ReadError(frame.Payload, out var code, out _));
                    Assert.True(Enum.IsDefined(code) && code != ErrorCode.None, $"error code {(int)code}");
                }
            }

            Assert.True(sequence.IsEmpty, $"{sequence.Length} bytes of the answer are not a whole frame");
        }, iterations: ChaosBudget.AdminBodies * 2, print: Fuzz.Hex);
        await beside.StopAndCheckAsync();
    }

    [Fact]
    public async Task DamagedCommands_OnTheRespPort_RespAnswers_ConnectionEnds_NodeLives()
    {
        using var beside = WellBehaved.Start(fixture.Chaos);
        var valid = "*4\r\n$10\r\nART.SELECT\r\n$1\r\n7\r\n$9\r\n1001,1002\r\n$8\r\nWITHMETA\r\n*1\r\n$4\r\nPING\r\n"u8.ToArray();
        await Fuzz.RunAsync(Gen.OneOf(Fuzz.Mutations(Gen.Const(valid)), Gen.Byte.Array[0, 100]), bytes =>
        {
            var answer = Exchange(fixture.Chaos.RespPort, bytes);
            Assert.True(answer.Length == 0 || "+-:$*"u8.Contains(answer[0]), $"not a RESP reply: {Encoding.ASCII.GetString(answer)}");
        }, iterations: ChaosBudget.AdminBodies * 2, print: Fuzz.Hex);
        await beside.StopAndCheckAsync();
    }

    // Sends the input on a fresh connection, half-closes, and reads until the server closes (bounded: 20 s).
    private static byte[] Exchange(int port, byte[] input)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 20_000, SendTimeout = 20_000 };
        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        var answer = new List<byte>();
        try
        {
            socket.Send(input);
            socket.Shutdown(SocketShutdown.Send);
            var buffer = new byte[4096];
            int n;
            while ((n = socket.Receive(buffer)) > 0)
            {
                answer.AddRange(buffer.AsSpan(0, n));
            }
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted)
        {
            // Closed by the server after its goodbye.
        }

        return [.. answer];
    }

    private int Send(string method, string path, byte[] body, string contentType)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        using var response = fixture.Chaos.Http.Send(request);
        var status = (int)response.StatusCode;
        var text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        Assert.True(status is 200 or 400 or 403 or 409 or 413 or 422 or 503, $"{method} {path} answered {status}: {text}");
        if (status != 200)
        {
            using var error = JsonDocument.Parse(text);
            Assert.False(string.IsNullOrEmpty(error.RootElement.GetProperty("error").GetString()), $"{status} without a reason: {text}");
        }

        return status;
    }

    /// <summary>A binary client pinging beside the fuzz (bounded: 3,000 pings or its stop): every answer must be right.</summary>
    private sealed class WellBehaved : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<int> _run;

        private WellBehaved(ChaosNode node) => _run = RunAsync(node, _stop.Token);

        public static WellBehaved Start(ChaosNode node) => new(node);

        public async Task StopAndCheckAsync()
        {
            await _stop.CancelAsync();
            Assert.True(await _run > 0, "the well-behaved client got no answer during the fuzz");
        }

        public void Dispose() => _stop.Dispose();

        private static async Task<int> RunAsync(ChaosNode node, CancellationToken stop)
        {
            await using var client = node.Client();
            var answered = 0;
            for (ulong i = 1; i <= 3_000 && !stop.IsCancellationRequested; i++)
            {
                Assert.Equal(i, await client.PingAsync(i, CancellationToken.None));
                answered++;
                try
                {
                    await Task.Delay(50, stop);
                }
                catch (OperationCanceledException)
                {
                }
            }

            return answered;
        }
    }
}
