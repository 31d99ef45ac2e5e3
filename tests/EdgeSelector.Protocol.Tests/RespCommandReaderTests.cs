using System.Buffers;
using System.Text;
using EdgeSelector.Protocol.Resp;

namespace EdgeSelector.Protocol.Tests;

/// <summary>The RESP front door's command reader and reply writer (docs/resp.md).</summary>
public class RespCommandReaderTests
{
    private static readonly byte[] Command = Encoding.ASCII.GetBytes("*3\r\n$10\r\nART.SELECT\r\n$4\r\n1001\r\n$1\r\n7\r\n");

    [Fact]
    public void TryRead_WholeCommand_ArgumentsAndLength()
    {
        var starts = new int[8];
        var lengths = new int[8];
        byte[] twice = [.. Command, .. Command];

        var status = RespCommandReader.TryRead(twice, starts, lengths, out int count, out int consumed);

        Assert.Equal(RespReadStatus.Command, status);
        Assert.Equal(3, count);
        Assert.Equal(Command.Length, consumed);
        Assert.Equal("ART.SELECT", Encoding.ASCII.GetString(twice, starts[0], lengths[0]));
        Assert.Equal("1001", Encoding.ASCII.GetString(twice, starts[1], lengths[1]));
        Assert.Equal("7", Encoding.ASCII.GetString(twice, starts[2], lengths[2]));
    }

    [Fact]
    public void TryRead_EveryPrefix_IncompleteAndConsumesNothing()
    {
        var starts = new int[8];
        var lengths = new int[8];
        for (int i = 0; i < Command.Length; i++)
        {
            Assert.Equal(RespReadStatus.Incomplete, RespCommandReader.TryRead(Command.AsSpan(0, i), starts, lengths, out _, out int consumed));
            Assert.Equal(0, consumed);
        }
    }

    [Theory]
    [InlineData("PING\r\n")]
    [InlineData("*1\r\n+PING\r\n")]
    [InlineData("*x\r\n")]
    [InlineData("*0\r\n")]
    [InlineData("*1\r\n$4\r\nPINGxx")]
    [InlineData("*1\r\n$-1\r\n")]
    public void TryRead_NotAnArrayOfBulkStrings_Malformed(string input)
    {
        var status = RespCommandReader.TryRead(Encoding.ASCII.GetBytes(input), new int[8], new int[8], out _, out _);
        Assert.Equal(RespReadStatus.Malformed, status);
    }

    [Fact]
    public void TryRead_MoreArgumentsThanRoom_TooManyArguments()
    {
        var status = RespCommandReader.TryRead(Command, new int[2], new int[2], out _, out _);
        Assert.Equal(RespReadStatus.TooManyArguments, status);
    }

    [Fact]
    public void TryRead_AndWriter_AllocateNothing()
    {
        var starts = new int[8];
        var lengths = new int[8];
        var output = new ArrayBufferWriter<byte>(4096);
        RespCommandReader.TryRead(Command, starts, lengths, out _, out _);
        WriteReplies(output);
        output.ResetWrittenCount();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            RespCommandReader.TryRead(Command, starts, lengths, out _, out _);
            WriteReplies(output);
            output.ResetWrittenCount();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Writer_Replies_AreRespText()
    {
        var output = new ArrayBufferWriter<byte>();
        WriteReplies(output);
        Assert.Equal("+PONG\r\n:107\r\n*2\r\n$3\r\n107\r\n$-1\r\n-ERR x\r\n$4\r\n0.25\r\n", Encoding.ASCII.GetString(output.WrittenSpan));
    }

    private static void WriteReplies(ArrayBufferWriter<byte> output)
    {
        RespWriter.WriteSimpleString(output, "PONG"u8);
        RespWriter.WriteInteger(output, 107);
        RespWriter.WriteArrayHeader(output, 2);
        RespWriter.WriteBulkNumber(output, 107);
        RespWriter.WriteNil(output);
        RespWriter.WriteError(output, "ERR x"u8);
        RespWriter.WriteBulkFloat(output, 0.25f);
    }
}
