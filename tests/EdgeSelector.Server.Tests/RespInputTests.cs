using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Resp;

namespace EdgeSelector.Server.Tests;

/// <summary>
/// The RESP front door's input as Redis takes it (docs/resp.md#input): inline commands, what an operator types into
/// telnet or nc, are answered as their array form; an empty array <c>*0</c> is skipped; an inline line over
/// RespMaxCommandBytes or with an unbalanced quote gets Redis's error and the connection closes.
/// </summary>
public sealed class RespInputTests : IDisposable
{
    private readonly TestNode _node = TestNode.Start(o => o.LogImpressions = false);

    public void Dispose() => _node.Dispose();

    [Theory]
    [InlineData("PING", new[] { "PING" })]
    [InlineData("ping hello", new[] { "PING", "hello" })]
    [InlineData("ECHO \"hello world\"", new[] { "ECHO", "hello world" })]
    [InlineData("ECHO 'it\\'s'", new[] { "ECHO", "it's" })]
    [InlineData("ECHO \"\\x41\\tb\"", new[] { "ECHO", "A\tb" })]
    [InlineData("ART.SELECT 1001 1 COUNTRY US DEVICE 1 HOUR 21 DOW 5", new[] { "ART.SELECT", "1001", "1", "COUNTRY", "US", "DEVICE", "1", "HOUR", "21", "DOW", "5" })]
    [InlineData("GET 1:1001", new[] { "GET", "1:1001" })]
    [InlineData("GET 1:9999", new[] { "GET", "1:9999" })]
    [InlineData("ART.PAGE 1 1001 1002 9999", new[] { "ART.PAGE", "1", "1001", "1002", "9999" })]
    [InlineData("SELECT 0", new[] { "SELECT", "0" })]
    [InlineData("CLIENT GETNAME", new[] { "CLIENT", "GETNAME" })]
    [InlineData("ART.SELECT nope 1", new[] { "ART.SELECT", "nope", "1" })]
    [InlineData("FLUSHALL", new[] { "FLUSHALL" })]
    public void Inline_AnsweredAsTheArrayForm(string line, string[] args)
    {
        var (arrayOutcome, arrayCompleted, arrayText) = Run(Resp(args));
        foreach (var end in new[] { "\r\n", "\n" })
        {
            var (outcome, completed, text) = Run(Encoding.Latin1.GetBytes(line + end));

            Assert.Equal(arrayText, text);
            Assert.Equal((arrayOutcome, arrayCompleted), (outcome, completed));
        }

        Assert.Equal(BatchOutcome.Done, arrayOutcome);
        Assert.Equal(1, arrayCompleted);
        Assert.DoesNotContain("Protocol error", arrayText, StringComparison.Ordinal);
    }

    [Fact]
    public void Inline_Quit_OkThenClose()
    {
        var (outcome, completed, text) = Run("QUIT\r\nPING\r\n"u8.ToArray());

        Assert.Equal((BatchOutcome.Close, 1, "+OK\r\n"), (outcome, completed, text));
    }

    [Fact]
    public void InlineAndArrayCommands_Interleaved_AnsweredInOrder()
    {
        byte[] input = [.. "PING\r\n"u8, .. Resp("ECHO", "a"), .. " \r\n"u8, .. "ECHO b\r\n"u8, .. Resp("PING")];

        var (outcome, completed, text) = Run(input);

        Assert.Equal(BatchOutcome.Done, outcome);
        Assert.Equal(4, completed); // the blank line is skipped, not answered
        Assert.Equal("+PONG\r\n$1\r\na\r\n$1\r\nb\r\n+PONG\r\n", text);
    }

    [Fact]
    public void Inline_EverySplitPoint_SameAnswer()
    {
        byte[] input = [.. "ECHO \"a b\"\r\n"u8, .. "PING 'c d'\r\n"u8];
        var (_, _, expected) = Run(input);
        Assert.Equal("$3\r\na b\r\n$3\r\nc d\r\n", expected);
        for (var cut = 0; cut <= input.Length; cut++)
        {
            var (outcome, completed, text) = Run(Sequences.Split(input, cut));

            Assert.Equal(BatchOutcome.Done, outcome);
            Assert.Equal(2, completed);
            Assert.Equal(expected, text);
        }
    }

    [Fact]
    public void Inline_LineInPieces_NothingConsumedUntilItsEnd()
    {
        var session = NewSession(out var output);
        using var closing = new Closing(session);
        var input = "ECHO hello\r\n"u8.ToArray();
        for (var i = 0; i < input.Length; i++)
        {
            var partial = new ReadOnlySequence<byte>(input, 0, i);
            Assert.Equal(BatchOutcome.Done, session.Process(ref partial, Now(), out var none));
            Assert.Equal(0, none);
            Assert.Equal(i, partial.Length);
        }

        var whole = new ReadOnlySequence<byte>(input);
        session.Process(ref whole, Now(), out var completed);
        Assert.Equal(1, completed);
        Assert.Equal(0, whole.Length);
        Assert.Equal("$5\r\nhello\r\n", Drain(output));
    }

    [Fact]
    public void EmptyArray_Skipped_NextCommandAnswered()
    {
        byte[] input = [.. "*0\r\n"u8, .. Resp("PING"), .. "*0\r\n*-1\r\n"u8, .. "ECHO x\r\n"u8, .. "*0\r\n"u8];

        var (outcome, completed, text) = Run(input);

        Assert.Equal(BatchOutcome.Done, outcome);
        Assert.Equal(2, completed);
        Assert.Equal("+PONG\r\n$1\r\nx\r\n", text);
        for (var cut = 0; cut <= input.Length; cut++)
        {
            Assert.Equal((BatchOutcome.Done, 2, text), Run(Sequences.Split(input, cut)));
        }
    }

    [Theory]
    [InlineData("ECHO \"abc\r\nPING\r\n")]
    [InlineData("ECHO 'abc\r\nPING\r\n")]
    [InlineData("ECHO \"abc\"def\r\nPING\r\n")]
    public void Inline_UnbalancedQuotes_RedisErrorThenClose(string input)
    {
        var (outcome, completed, text) = Run(Encoding.ASCII.GetBytes("PING\r\n" + input));

        Assert.Equal(BatchOutcome.Close, outcome);
        Assert.Equal(1, completed);
        Assert.Equal("+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n", text);
    }

    [Fact]
    public void Inline_LineOverTheCommandLimit_ErrorThenClose_WithoutWaitingForItsEnd()
    {
        // RespMaxCommandBytes (65,536 by default, Redis's inline limit too) bytes and no line end: refused at once.
        var max = _node.Node.Options.RespMaxCommandBytes;
        var line = Encoding.ASCII.GetBytes("ECHO " + new string('a', max));
        const string refused = "-ERR Protocol error: too big inline request\r\n";
        Assert.Equal((BatchOutcome.Close, 0, refused), Run(line.AsSpan(0, max).ToArray()));
        Assert.Equal((BatchOutcome.Close, 0, refused), Run(Sequences.Split(line, 1000, 30_000)));
        Assert.Equal((BatchOutcome.Done, 0, ""), Run(line.AsSpan(0, max - 1).ToArray())); // may still end
        Assert.Equal((BatchOutcome.Done, 0, ""), Run(Sequences.Split(line.AsSpan(0, max - 1).ToArray(), 1000)));

        // A line of exactly the limit, its CRLF included, is read; its one word is over the argument limit (4096 bytes,
        // as for an array's bulk string, which closes too).
        var atLimit = Encoding.ASCII.GetBytes("PING " + new string('a', max - 7) + "\r\n");
        Assert.Equal(max, atLimit.Length);
        Assert.Equal((BatchOutcome.Close, 0, "-ERR Protocol error: argument longer than 4096 bytes\r\n"), Run(Sequences.Split(atLimit, 100)));
        var words = Encoding.ASCII.GetBytes("ART.PAGE 1 " + string.Join(' ', Enumerable.Repeat(new string('0', 996) + "1001", 64)) + "\r\n");
        Assert.InRange(words.Length, 60_000, max);
        var (outcome, completed, text) = Run(Sequences.Split(words, 100));
        Assert.Equal((BatchOutcome.Done, 1), (outcome, completed));
        Assert.StartsWith("*64\r\n:100102\r\n", text, StringComparison.Ordinal);
        var ok = Encoding.ASCII.GetBytes("ECHO " + new string('a', 4096) + "\r\n");
        Assert.Equal((BatchOutcome.Done, 1, $"$4096\r\n{new string('a', 4096)}\r\n"), Run(Sequences.Split(ok, 7)));
    }

    [Fact]
    public void Inline_MoreWordsThanArguments_ErrorThenClose()
    {
        var words = string.Join(' ', Enumerable.Repeat("1001", _node.Node.Options.MaxTitlesPerPage + 16));

        var (outcome, completed, text) = Run(Encoding.ASCII.GetBytes("ART.PAGE " + words + "\r\n"));

        Assert.Equal((BatchOutcome.Close, 0, "-ERR too many arguments\r\n"), (outcome, completed, text));
    }

    [Fact]
    public void InlineCommands_AllocateNothingPerCommand()
    {
        var input = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("PING\r\nECHO \"a b\"\r\n", 32)));
        var session = NewSession(out var output);
        long Batches(int count)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var b = 0; b < count; b++)
            {
                var buffer = new ReadOnlySequence<byte>(input);
                session.Process(ref buffer, Now(), out _);
                output.Writer.FlushAsync().GetAwaiter().GetResult(); // completes at once: nothing waits on the reader
                output.Reader.TryRead(out var read);
                output.Reader.AdvanceTo(read.Buffer.End);
            }

            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        long[] windows;
        try
        {
            Batches(50);
            windows = [Batches(100), Batches(100), Batches(100)];
        }
        finally
        {
            session.OnClosed();
        }

        // 6,400 commands per window: an object per command would be ≥ 150 KB.
        Assert.True(windows.Count(w => w == 0) >= 2, $"allocated {string.Join(", ", windows)} bytes in three windows of 100 batches of 64 inline commands");
    }

    private RespSession NewSession(out Pipe output)
    {
        output = new Pipe();
        var options = _node.Node.Options;
        var info = new RespServerInfo(_node.Node.Metrics, _node.Node.Stores, _node.Node.Rollout, _node.Node.RespLimit, _node.Node.BinaryLimit, 0, options.NodeId, options.IdleTimeoutSeconds);
        return new RespSession(_node.Session(), output.Writer, _node.Node.Metrics, options.MaxTitlesPerPage, options.RespMaxCommandBytes, options.MaxInFlightPerConnection, info, clientId: 1);
    }

    private (BatchOutcome Outcome, int Completed, string Text) Run(byte[] input) => Run(new ReadOnlySequence<byte>(input));

    // One batch through a fresh session (and its own serving session, disposed with it).
    private (BatchOutcome Outcome, int Completed, string Text) Run(ReadOnlySequence<byte> buffer)
    {
        var session = NewSession(out var output);
        try
        {
            var outcome = session.Process(ref buffer, Now(), out var completed);
            return (outcome, completed, Drain(output));
        }
        finally
        {
            session.OnClosed();
        }
    }

    private static string Drain(Pipe output)
    {
        output.Writer.FlushAsync().GetAwaiter().GetResult();
        if (!output.Reader.TryRead(out var read))
        {
            return "";
        }

        var text = Encoding.Latin1.GetString(read.Buffer.ToArray());
        output.Reader.AdvanceTo(read.Buffer.End);
        return text;
    }

    private sealed class Closing(RespSession session) : IDisposable
    {
        public void Dispose() => session.OnClosed();
    }

    private static Batch Now()
    {
        var now = Stopwatch.GetTimestamp();
        return new Batch(now, now);
    }

    private static byte[] Resp(params string[] args)
    {
        var text = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var arg in args)
        {
            text.Append('$').Append(Encoding.Latin1.GetByteCount(arg)).Append("\r\n").Append(arg).Append("\r\n");
        }

        return Encoding.Latin1.GetBytes(text.ToString());
    }
}
