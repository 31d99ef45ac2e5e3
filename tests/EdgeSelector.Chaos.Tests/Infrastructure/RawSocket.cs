using System.Buffers;
using System.Net;
using System.Net.Sockets;
using EdgeSelector.Protocol;

namespace EdgeSelector.Chaos.Tests.Infrastructure;

/// <summary>Raw loopback sockets for clients that misbehave on purpose (slow, silent, abusive).</summary>
internal static class RawSocket
{
    public static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    public static byte[] Ping(ulong id)
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.WritePing(writer, id, id);
        return writer.WrittenSpan.ToArray();
    }

    public static byte[] SelectPage(ulong id)
    {
        var writer = new ArrayBufferWriter<byte>();
        var member = Traffic.Member(id);
        FrameWriter.WriteSelectPage(writer, id, in member, Traffic.Page);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Sends <paramref name="bytes"/> one byte per <paramref name="interval"/> after sending the first
    /// <paramref name="burst"/> bytes at once, until the server closes the socket or <paramref name="stop"/> fires.
    /// Bounded by the input's length.
    /// </summary>
    public static async Task TrickleAsync(Socket socket, byte[] bytes, int burst, TimeSpan interval, CancellationToken stop)
    {
        try
        {
            if (burst > 0)
            {
                await socket.SendAsync(bytes.AsMemory(0, burst), SocketFlags.None, stop);
            }

            for (var i = burst; i < bytes.Length; i++)
            {
                await Task.Delay(interval, stop);
                await socket.SendAsync(bytes.AsMemory(i, 1), SocketFlags.None, stop);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Closed by the server (what the test wants) or stopped by the test.
        }
    }

    /// <summary>Reads until the peer closes; the bytes read, or null when it did not close within <paramref name="timeout"/>.</summary>
    public static Task<byte[]?> ReadUntilClosedAsync(Socket socket, TimeSpan timeout) => Sockets.ReadUntilClosedAsync(socket, timeout);

    public static async Task<byte[]> ReadExactlyAsync(Socket socket, int count, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[count];
        for (var read = 0; read < count;)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cts.Token);
            if (n == 0)
            {
                throw new IOException($"closed after {read} of {count} bytes");
            }

            read += n;
        }

        return buffer;
    }

    /// <summary>Reads one whole binary frame (header, then the rest).</summary>
    public static async Task<byte[]> ReadFrameAsync(Socket socket, TimeSpan timeout)
    {
        var header = await ReadExactlyAsync(socket, FrameHeader.Size, timeout);
        var length = BitConverter.ToInt32(header, 0);
        var rest = await ReadExactlyAsync(socket, length - FrameHeader.Size, timeout);
        return [.. header, .. rest];
    }

    /// <summary>The error code of an ERROR frame at the start of <paramref name="bytes"/>, or null when it is none.</summary>
    public static ErrorCode? ErrorOf(byte[] bytes)
    {
        var sequence = new ReadOnlySequence<byte>(bytes);
        if (!FrameReader.TryReadFrame(ref sequence, new ProtocolOptions(), out var frame, out _) || frame.Opcode != Opcode.Error)
        {
            return null;
        }

        return PayloadReader.ReadError(frame.Payload, out var code, out _) == ErrorCode.None ? code : null;
    }
}
