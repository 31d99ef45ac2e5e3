using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EdgeSelector.Integration.Tests;

/// <summary>The RESP front door over loopback with a raw RESP client, and redis-cli (RespClientTests has more of both real clients).</summary>
public class RespFrontDoorTests
{
    private static async Task<(LiveServer Server, int RespPort)> StartAsync(params string[] extra)
    {
        int port = FreePort();
        var server = await LiveServer.StartAsync(extra: [$"--EdgeSelector:RespPort={port}", .. extra]);
        return (server, port);
    }

    // ART.PAGE <member> and `titles` title ids zero-padded to 1,000 digits (each argument within the 4096-byte limit):
    // a command of about 1 KB per title.
    private static string[] PaddedPage(int titles) =>
        ["ART.PAGE", "1", .. Enumerable.Range(0, titles).Select(i => (1001 + (i % 12)).ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(1000, '0'))];

    [Fact]
    public async Task Resp_CommandOverTheLimit_ErrorReplyInOrder_ConnectionKept()
    {
        // 82 KB, over the default 64 KiB RespMaxCommandBytes (docs/resp.md#limits): answered with an error and skipped.
        var (server, port) = await StartAsync();
        await using var _ = server;
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        string big = Encode(PaddedPage(80));
        Assert.InRange(big.Length, 80_000, 84_000);

        // In one write with the commands around it, then again on its own in small pieces.
        await stream.WriteAsync(Encoding.ASCII.GetBytes(Encode("PING") + big + Encode("ART.SELECT", "1001", "1")));
        const string error = "-ERR command too large: more than 65536 bytes (RespMaxCommandBytes)\r\n";
        string expected = "+PONG\r\n" + error + ":100102\r\n";
        Assert.Equal(expected, await ReadExactly(stream, expected.Length));
        var bytes = Encoding.ASCII.GetBytes(big);
        for (int i = 0; i < bytes.Length; i += 7_000)
        {
            await stream.WriteAsync(bytes.AsMemory(i, Math.Min(7_000, bytes.Length - i)));
            await stream.FlushAsync();
        }

        Assert.Equal(error, await ReadExactly(stream, error.Length));
        Assert.Equal("+PONG\r\n", await RoundTrip(stream, "PING"));
    }

    [Fact]
    public async Task Resp_CommandWithinARaisedLimit_Answered()
    {
        var (server, port) = await StartAsync("--EdgeSelector:RespMaxCommandBytes=131072");
        await using var _ = server;
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();

        string reply = await RoundTrip(stream, PaddedPage(80));

        Assert.StartsWith("*80\r\n:100102\r\n", reply, StringComparison.Ordinal);
        Assert.Equal("+PONG\r\n", await RoundTrip(stream, "PING"));
    }

    [Fact]
    public async Task Resp_Commands_AnswerLikeTheBinaryProtocol()
    {
        var (server, port) = await StartAsync();
        await using var _ = server;
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();

        Assert.Equal("+PONG\r\n", await RoundTrip(stream, "PING"));
        Assert.StartsWith("*14\r\n$6\r\nserver\r\n$12\r\nedgeselector\r\n", await RoundTrip(stream, "HELLO"), StringComparison.Ordinal);
        Assert.StartsWith("*14\r\n", await RoundTrip(stream, "HELLO", "2"), StringComparison.Ordinal);
        Assert.StartsWith("-NOPROTO", await RoundTrip(stream, "HELLO", "3"), StringComparison.Ordinal);
        Assert.Equal("*0\r\n", await RoundTrip(stream, "COMMAND", "DOCS"));

        // Member 1 of the demo is the comedy fan: the same artwork as over the binary protocol (ServerTests).
        Assert.Equal(":100102\r\n", await RoundTrip(stream, "ART.SELECT", "1001", "1", "COUNTRY", "US", "DEVICE", "1", "HOUR", "21", "DOW", "5"));
        Assert.Equal("$6\r\n100102\r\n", await RoundTrip(stream, "GET", "1:1001"));
        Assert.Equal("$-1\r\n", await RoundTrip(stream, "GET", "1:9999")); // unknown title, no default artwork
        string meta = await RoundTrip(stream, "ART.SELECT", "1001", "1", "WITHMETA");
        Assert.Matches(@"^\*5\r\n:100102\r\n\$\d+\r\n\d+\r\n\$\d+\r\n[0-9.E-]+\r\n:0\r\n\$\d+\r\n\d+\r\n$", meta);
        Assert.Equal("*2\r\n:100102\r\n:0\r\n", await RoundTrip(stream, "ART.PAGE", "1", "1001", "9999"));
        Assert.StartsWith("-ERR", await RoundTrip(stream, "GET", "nokey"), StringComparison.Ordinal);
        Assert.StartsWith("-ERR", await RoundTrip(stream, "ART.SELECT", "x", "1"), StringComparison.Ordinal);
        Assert.StartsWith("-ERR unknown command", await RoundTrip(stream, "FLUSHALL"), StringComparison.Ordinal);

        // Pipelined: many commands in one write, answered in order.
        var batch = new StringBuilder();
        for (int i = 0; i < 100; i++)
        {
            batch.Append(Encode("ART.SELECT", "1001", "1"));
        }

        await stream.WriteAsync(Encoding.ASCII.GetBytes(batch.ToString()));
        string expected = string.Concat(Enumerable.Repeat(":100102\r\n", 100));
        Assert.Equal(expected, await ReadExactly(stream, expected.Length));

        Assert.Equal("+OK\r\n", await RoundTrip(stream, "QUIT"));
    }

    [Fact]
    public async Task Resp_InlineCommandsAsTypedIntoNc_Answered()
    {
        var (server, port) = await StartAsync();
        await using var _ = server;
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();

        // nc sends LF line ends, telnet CRLF; an empty array between is skipped (docs/resp.md#input).
        await stream.WriteAsync("PING\nECHO \"hello world\"\r\n*0\r\nART.SELECT 1001 1 COUNTRY US DEVICE 1 HOUR 21 DOW 5\n"u8.ToArray());
        const string expected = "+PONG\r\n$11\r\nhello world\r\n:100102\r\n";
        Assert.Equal(expected, await ReadExactly(stream, expected.Length));
        Assert.Equal("+PONG\r\n", await RoundTrip(stream, "PING"));

        await stream.WriteAsync("ECHO \"unbalanced\r\n"u8.ToArray());
        const string refused = "-ERR Protocol error: unbalanced quotes in request\r\n";
        Assert.Equal(refused, await ReadExactly(stream, refused.Length));
        Assert.Equal(0, await stream.ReadAsync(new byte[16])); // closed, as Redis closes it
    }

    [Fact]
    public async Task Resp_NotResp_ErrorThenClose()
    {
        var (server, port) = await StartAsync();
        await using var _ = server;
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync("*1\r\n+HELLO\r\n"u8.ToArray()); // an array of a simple string, not of bulk strings
        var buffer = new byte[256];
        int n = await stream.ReadAsync(buffer);
        Assert.StartsWith("-ERR Protocol error", Encoding.ASCII.GetString(buffer, 0, n), StringComparison.Ordinal);
        Assert.Equal(0, await stream.ReadAsync(buffer)); // closed
    }

    [Fact]
    public async Task RedisCli_ArtSelect_GetsTheArtwork()
    {
        var (server, port) = await StartAsync();
        await using var _ = server;
        var (exitCode, output, _) = await RedisCli.RunAsync(port, null, "ART.SELECT", "1001", "1", "COUNTRY", "US", "DEVICE", "1", "HOUR", "21", "DOW", "5");
        Assert.Equal(0, exitCode);
        Assert.Contains("100102", output, StringComparison.Ordinal);
    }

    private static string Encode(params string[] args)
    {
        var sb = new StringBuilder();
        sb.Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args)
        {
            sb.Append('$').Append(Encoding.ASCII.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        }

        return sb.ToString();
    }

    private static async Task<string> RoundTrip(NetworkStream stream, params string[] args)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes(Encode(args)));
        var buffer = new byte[4096];
        var text = new StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        do
        {
            int n = await stream.ReadAsync(buffer, timeout.Token);
            if (n == 0)
            {
                break;
            }

            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        while (!IsWholeReply(text.ToString()));

        return text.ToString();
    }

    // Enough for the replies above: a line, or a bulk string, or an array of lines and bulk strings.
    private static bool IsWholeReply(string s) => EdgeSelector.LoadTest.RespReply.TryMeasure(Encoding.ASCII.GetBytes(s), out _) == s.Length;

    private static async Task<string> ReadExactly(NetworkStream stream, int length)
    {
        var buffer = new byte[length];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await stream.ReadExactlyAsync(buffer, timeout.Token);
        return Encoding.ASCII.GetString(buffer);
    }
}
