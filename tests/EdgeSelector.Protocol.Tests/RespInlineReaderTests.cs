using System.Text;
using EdgeSelector.Protocol.Resp;

namespace EdgeSelector.Protocol.Tests;

/// <summary>The RESP front door's inline commands (docs/resp.md#input): Redis's line and quoting rules.</summary>
public class RespInlineReaderTests
{
    private static (RespReadStatus Status, string[] Words) Split(string line, int room = 16)
    {
        var bytes = Encoding.Latin1.GetBytes(line);
        var output = new byte[bytes.Length];
        var starts = new int[room];
        var lengths = new int[room];
        var status = RespInlineReader.Split(bytes, output, starts, lengths, out var count);
        return (status, [.. Enumerable.Range(0, count).Select(i => Encoding.Latin1.GetString(output, starts[i], lengths[i]))]);
    }

    [Theory]
    [InlineData("PING\r\nECHO x\r\n", 4, 6)]
    [InlineData("PING\nECHO x\n", 4, 5)] // nc sends LF alone
    [InlineData("\n", 0, 1)]
    public void TryFindLine_LfOrCrLf_LineWithoutItsEnd(string input, int lineLength, int consumed)
    {
        var status = RespInlineReader.TryFindLine(Encoding.ASCII.GetBytes(input), 1024, out var length, out var used);

        Assert.Equal(RespReadStatus.Command, status);
        Assert.Equal(lineLength, length);
        Assert.Equal(consumed, used);
    }

    [Fact]
    public void TryFindLine_EveryPrefix_IncompleteAndConsumesNothing()
    {
        var line = "ART.SELECT 1001 1 WITHMETA\r\n"u8.ToArray();
        for (var i = 0; i < line.Length; i++)
        {
            Assert.Equal(RespReadStatus.Incomplete, RespInlineReader.TryFindLine(line.AsSpan(0, i), 1024, out _, out var used));
            Assert.Equal(0, used);
        }
    }

    [Fact]
    public void TryFindLine_LineOfExactlyTheLimit_Found_OneByteLonger_TooLarge()
    {
        var atLimit = Encoding.ASCII.GetBytes("ECHO " + new string('a', 64 - 5 - 2) + "\r\n");
        Assert.Equal(64, atLimit.Length);
        Assert.Equal(RespReadStatus.Command, RespInlineReader.TryFindLine(atLimit, 64, out _, out var used));
        Assert.Equal(64, used);

        var over = Encoding.ASCII.GetBytes("ECHO " + new string('a', 64 - 5 - 1) + "\r\n");
        Assert.Equal(RespReadStatus.TooLarge, RespInlineReader.TryFindLine(over, 64, out _, out var none));
        Assert.Equal(0, none);
        Assert.Equal(RespReadStatus.TooLarge, RespInlineReader.TryFindLine(over.AsSpan(0, 64), 64, out _, out _)); // no LF yet, already the limit
        Assert.Equal(RespReadStatus.Incomplete, RespInlineReader.TryFindLine(over.AsSpan(0, 63), 64, out _, out _));
    }

    [Theory]
    [InlineData("PING", new[] { "PING" })]
    [InlineData("  ART.SELECT\t1001   1  ", new[] { "ART.SELECT", "1001", "1" })]
    [InlineData("ECHO \"hello world\"", new[] { "ECHO", "hello world" })]
    [InlineData("ECHO 'hello world'", new[] { "ECHO", "hello world" })]
    [InlineData("ECHO \"a\\\"b\\\\c\\n\\x41\\x7a\"", new[] { "ECHO", "a\"b\\c\nAz" })]
    [InlineData("ECHO \"\\q\\xZZ\"", new[] { "ECHO", "qxZZ" })] // an unknown escape is the character; \x without two hex digits is 'x'
    [InlineData("ECHO 'it\\'s' '\\n'", new[] { "ECHO", "it's", "\\n" })] // single quotes: only \' is an escape
    [InlineData("ECHO ab\"c d\"", new[] { "ECHO", "abc d" })] // a quote may start inside a word, as in Redis
    [InlineData("ECHO \"\" ''", new[] { "ECHO", "", "" })]
    [InlineData("", new string[0])]
    [InlineData(" \t ", new string[0])]
    public void Split_RedisQuotingRules(string line, string[] words)
    {
        var (status, actual) = Split(line);

        Assert.Equal(RespReadStatus.Command, status);
        Assert.Equal(words, actual);
    }

    [Theory]
    [InlineData("ECHO \"abc")]
    [InlineData("ECHO 'abc")]
    [InlineData("ECHO \"abc\"def")] // a closing quote must end the word
    [InlineData("ECHO 'abc'def")]
    [InlineData("ECHO \"abc\\\"")]
    public void Split_UnbalancedQuotes(string line)
    {
        Assert.Equal(RespReadStatus.UnbalancedQuotes, Split(line).Status);
    }

    [Fact]
    public void Split_MoreWordsThanRoom_TooManyArguments_WordOverTheArgumentLimit_Malformed()
    {
        Assert.Equal(RespReadStatus.TooManyArguments, Split("a b c", room: 2).Status);
        Assert.Equal(RespReadStatus.Command, Split("a b", room: 2).Status);
        Assert.Equal(RespReadStatus.Command, Split("ECHO " + new string('x', RespCommandReader.MaxArgumentLength)).Status);
        Assert.Equal(RespReadStatus.Malformed, Split("ECHO " + new string('x', RespCommandReader.MaxArgumentLength + 1)).Status);
    }

    [Fact]
    public void Split_AllocatesNothing()
    {
        var line = "ART.SELECT 1001 1 COUNTRY \"US\" WITHMETA"u8.ToArray();
        var output = new byte[line.Length];
        var starts = new int[16];
        var lengths = new int[16];
        RespInlineReader.Split(line, output, starts, lengths, out _);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            RespInlineReader.TryFindLine(line, 1024, out _, out _);
            RespInlineReader.Split(line, output, starts, lengths, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
