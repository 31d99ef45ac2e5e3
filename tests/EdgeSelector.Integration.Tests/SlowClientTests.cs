using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeSelector.Protocol;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// Slow and idle clients on every TCP port (docs/protocol.md#limits): idle means no whole request, a started request
/// must finish within the frame timeout, and each port has its own connection budget. Bounded in time: the
/// timeouts are a few seconds and every wait has a deadline.
/// </summary>
public class SlowClientTests
{
    private const int IdleSeconds = 3;
    private const int FrameSeconds = 2;
    private const int Budget = 4;

    // The documented bound: the deadline, plus one heartbeat interval (1 s), plus slack for a loaded machine.
    private static readonly TimeSpan FrameBound = TimeSpan.FromSeconds(FrameSeconds + 1 + 4);
    private static readonly TimeSpan IdleBound = TimeSpan.FromSeconds(IdleSeconds + 1 + 4);

    [Fact]
    public async Task OneBytePerSecond_BinaryClient_IsClosedWithinTheFrameTimeout()
    {
        var (server, _) = await StartAsync();
        await using var _s = server;
        using var socket = await ConnectAsync(server.BinaryPort);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var clock = Stopwatch.StartNew();
        var trickle = TrickleAsync(socket, Ping(1), stop.Token); // 26 bytes: 26 s if nobody stopped it
        var answer = await ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(20));
        clock.Stop();
        await stop.CancelAsync();
        await trickle;

        Assert.True(clock.Elapsed < FrameBound, $"closed after {clock.Elapsed.TotalSeconds:F1} s, bound {FrameBound.TotalSeconds} s");
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(FrameSeconds - 0.5), $"closed after {clock.Elapsed.TotalSeconds:F1} s, before the frame timeout");
        Assert.Equal(ErrorCode.IdleTimeout, ErrorOf(answer));
    }

    [Fact]
    public async Task OneBytePerSecond_RespClient_IsClosedWithinTheFrameTimeout()
    {
        var (server, resp) = await StartAsync();
        await using var _s = server;
        using var socket = await ConnectAsync(resp);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var clock = Stopwatch.StartNew();
        var trickle = TrickleAsync(socket, "*1\r\n$4\r\nPING\r\n"u8.ToArray(), stop.Token);
        var answer = await ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(20));
        clock.Stop();
        await stop.CancelAsync();
        await trickle;

        Assert.True(clock.Elapsed < FrameBound, $"closed after {clock.Elapsed.TotalSeconds:F1} s, bound {FrameBound.TotalSeconds} s");
        Assert.Equal("-ERR command timeout\r\n", Encoding.ASCII.GetString(answer));
    }

    [Fact]
    public async Task SilentRespClient_IsClosedWithinTheIdleTimeout()
    {
        var (server, resp) = await StartAsync();
        await using var _s = server;
        using var socket = await ConnectAsync(resp);
        var clock = Stopwatch.StartNew();
        var answer = await ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(20));
        clock.Stop();
        Assert.True(clock.Elapsed < IdleBound, $"closed after {clock.Elapsed.TotalSeconds:F1} s, bound {IdleBound.TotalSeconds} s");
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(IdleSeconds - 0.5), $"closed after {clock.Elapsed.TotalSeconds:F1} s, before the idle timeout");
        Assert.Equal("-ERR idle timeout\r\n", Encoding.ASCII.GetString(answer));
    }

    [Fact]
    public async Task WholeRequestsSlowerThanTheFrameTimeoutApart_KeepTheConnection()
    {
        var (server, _) = await StartAsync();
        await using var _s = server;
        using var socket = await ConnectAsync(server.BinaryPort);
        // One whole PING a second for longer than the idle timeout: each one is a whole request, so none of the
        // time between them counts against the frame timeout, and each resets the idle deadline.
        for (var i = 1; i <= IdleSeconds + 2; i++)
        {
            await socket.SendAsync(Ping((ulong)i));
            var frame = await ReadFrameAsync(socket, TimeSpan.FromSeconds(10));
            Assert.Equal((byte)Opcode.Pong, frame[5]);
            Assert.Equal((ulong)i, BitConverter.ToUInt64(frame, 8));
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    [Fact]
    public async Task SlowSocketsFillingOnePortsBudget_DoNotTouchTheOtherPort_AndTheirPortRecovers()
    {
        var (server, resp) = await StartAsync();
        await using var _s = server;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var slow = new List<Socket>();
        var trickles = new List<Task>();
        try
        {
            for (var i = 0; i < Budget + 2; i++)
            {
                var socket = await ConnectAsync(server.BinaryPort);
                slow.Add(socket);
                trickles.Add(TrickleAsync(socket, Ping(1), stop.Token));
            }

            // Wait until the binary port's budget is taken (the two extra sockets were refused).
            await WaitUntilAsync(() => server.Node.BinaryLimit.Open == Budget && server.Node.BinaryLimit.Rejected >= 2, TimeSpan.FromSeconds(20));

            // The binary port: refused with TooManyConnections while the slow sockets hold its budget.
            using (var refused = await ConnectAsync(server.BinaryPort))
            {
                Assert.Equal(ErrorCode.TooManyConnections, ErrorOf(await ReadUntilClosedAsync(refused, TimeSpan.FromSeconds(10))));
            }

            // The RESP port: its own budget, served at once.
            var clock = Stopwatch.StartNew();
            using (var legit = await ConnectAsync(resp))
            {
                await legit.SendAsync("*1\r\n$4\r\nPING\r\n"u8.ToArray());
                Assert.Equal("+PONG\r\n", Encoding.ASCII.GetString(await ReadAtLeastAsync(legit, 7, TimeSpan.FromSeconds(10))));
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the RESP port answered after {clock.Elapsed.TotalSeconds:F1} s");

            // The binary port again: the slow sockets are closed within the frame timeout, then a client is served.
            clock.Restart();
            await WaitUntilAsync(() => server.Node.BinaryLimit.Open == 0, FrameBound);
            using var after = await ConnectAsync(server.BinaryPort);
            await after.SendAsync(Ping(7));
            var pong = await ReadFrameAsync(after, TimeSpan.FromSeconds(10));
            Assert.Equal((byte)Opcode.Pong, pong[5]);
            Assert.True(clock.Elapsed < FrameBound, $"the binary port recovered after {clock.Elapsed.TotalSeconds:F1} s, bound {FrameBound.TotalSeconds} s");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(trickles);
            slow.ForEach(s => s.Dispose());
        }
    }

    private static async Task<(LiveServer Server, int RespPort)> StartAsync()
    {
        var resp = FreePort();
        var server = await LiveServer.StartAsync(extra:
        [
            $"--EdgeSelector:RespPort={resp}",
            $"--EdgeSelector:IdleTimeoutSeconds={IdleSeconds}",
            $"--EdgeSelector:FrameTimeoutSeconds={FrameSeconds}",
            $"--EdgeSelector:MaxConnections={Budget}",
        ]);
        return (server, resp);
    }

    private static byte[] Ping(ulong id)
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.WritePing(writer, id, id);
        return writer.WrittenSpan.ToArray();
    }

    private static ErrorCode ErrorOf(byte[] frame)
    {
        Assert.True(frame.Length >= 16, $"expected an ERROR frame, got {frame.Length} bytes");
        Assert.Equal((byte)Opcode.Error, frame[5]);
        var payload = new ReadOnlySequence<byte>(frame.AsMemory(16, BitConverter.ToInt32(frame, 0) - 16));
        Assert.Equal(ErrorCode.None, PayloadReader.ReadError(payload, out var code, out _));
        return code;
    }

    // Sends one byte a second until the server closes the socket or the test stops it.
    private static async Task TrickleAsync(Socket socket, byte[] bytes, CancellationToken stop)
    {
        try
        {
            foreach (var b in bytes)
            {
                await socket.SendAsync(new[] { b }, SocketFlags.None, stop);
                await Task.Delay(TimeSpan.FromSeconds(1), stop);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    private static async Task<byte[]> ReadUntilClosedAsync(Socket socket, TimeSpan timeout) =>
        await Sockets.ReadUntilClosedAsync(socket, timeout) ?? throw new Xunit.Sdk.XunitException($"the server did not close the connection within {timeout.TotalSeconds} s");

    private static async Task<byte[]> ReadAtLeastAsync(Socket socket, int count, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[Math.Max(count, 1024)];
        var read = 0;
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cts.Token);
            Assert.True(n > 0, "closed early");
            read += n;
        }

        return buffer[..read];
    }

    private static async Task<byte[]> ReadFrameAsync(Socket socket, TimeSpan timeout)
    {
        var header = await ReadAtLeastAsync(socket, 16, timeout);
        var length = BitConverter.ToInt32(header, 0);
        if (header.Length >= length)
        {
            return header;
        }

        var rest = await ReadAtLeastAsync(socket, length - header.Length, timeout);
        return [.. header, .. rest];
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < timeout, $"condition not met within {timeout.TotalSeconds} s");
            await Task.Delay(50);
        }
    }
}
