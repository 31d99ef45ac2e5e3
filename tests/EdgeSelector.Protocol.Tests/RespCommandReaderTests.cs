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
    [InlineData("*1\r\n$4\r\nPINGxx")]
    [InlineData("*1\r\n$-1\r\n")]
    public void TryRead_NotAnArrayOfBulkStrings_Malformed(string input)
    {
        var status = RespCommandReader.TryRead(Encoding.ASCII.GetBytes(input), new int[8], new int[8], out _, out _);
        Assert.Equal(RespReadStatus.Malformed, status);
    }

    [Theory]
    [InlineData("*0\r\n")]
    [InlineData("*-1\r\n")]
    public void TryRead_EmptyArray_EmptyWithItsLength(string input)
    {
        // Redis skips an empty array without a reply (docs/resp.md#input); the next command follows it.
        var bytes = Encoding.ASCII.GetBytes(input + "*1\r\n$4\r\nPING\r\n");

        Assert.Equal(RespReadStatus.Empty, RespCommandReader.TryRead(bytes, new int[8], new int[8], out var count, out var consumed));
        Assert.Equal(0, count);
        Assert.Equal(input.Length, consumed);
        Assert.Equal(RespReadStatus.Incomplete, RespCommandReader.TryRead(bytes.AsSpan(0, input.Length - 1), new int[8], new int[8], out _, out _));
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

    private static byte[] Encode(params string[] args)
    {
        var text = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var arg in args)
        {
            text.Append('$').Append(arg.Length).Append("\r\n").Append(arg).Append("\r\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }

    // ART.PAGE with enough zero-padded title ids to make a command of about `bytes` bytes (each argument within 4096).
    private static byte[] BigCommand(int bytes)
    {
        var args = new List<string> { "ART.PAGE", "1" };
        for (var size = 30; size < bytes; size += 1010)
        {
            args.Add(new string('0', 996) + "1001");
        }

        return Encode([.. args]);
    }

    [Fact]
    public void TryRead_CommandOfExactlyTheLimit_Read_OneByteLess_TooLarge()
    {
        byte[] command = BigCommand(10_000);
        var starts = new int[64];
        var lengths = new int[64];

        Assert.Equal(RespReadStatus.Command, RespCommandReader.TryRead(command, starts, lengths, command.Length, out int count, out int consumed));
        Assert.Equal(command.Length, consumed);
        Assert.Equal("ART.PAGE", Encoding.ASCII.GetString(command, starts[0], lengths[0]));
        Assert.True(count > 2);
        Assert.Equal(RespReadStatus.TooLarge, RespCommandReader.TryRead(command, starts, lengths, command.Length - 1, out _, out consumed));
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void TryRead_EveryPrefixOfAnOversizedCommand_NeverACommand_TooLargeOnceItCannotFit()
    {
        const int limit = 4096;
        byte[] command = BigCommand(20_000);
        var starts = new int[64];
        var lengths = new int[64];
        for (int length = 0; length <= command.Length; length++)
        {
            var status = RespCommandReader.TryRead(command.AsSpan(0, length), starts, lengths, limit, out _, out int consumed);

            Assert.Equal(0, consumed);
            Assert.True(status is RespReadStatus.Incomplete or RespReadStatus.TooLarge, $"prefix {length}: {status}");
            if (length >= limit)
            {
                Assert.Equal(RespReadStatus.TooLarge, status);
            }
        }
    }

    [Fact]
    public void Skipper_OversizedCommandThenPing_EverySplitPoint_SkipsExactlyTheCommand()
    {
        byte[] big = BigCommand(9_000);
        byte[] ping = Encode("PING");
        byte[] stream = [.. big, .. ping];
        for (int split = 0; split <= stream.Length; split++)
        {
            var skipper = RespCommandSkipper.Start();
            var status = skipper.Skip(stream.AsSpan(0, split), out int first);
            int offset = first;
            if (status == RespReadStatus.Incomplete)
            {
                // The caller keeps the unconsumed bytes and appends what arrives next.
                status = skipper.Skip(stream.AsSpan(offset), out int second);
                offset += second;
            }

            Assert.True(status == RespReadStatus.Command, $"split {split}: {status}");
            Assert.Equal(big.Length, offset);
            Assert.Equal(RespReadStatus.Command, RespCommandReader.TryRead(stream.AsSpan(offset), new int[4], new int[4], out int argc, out _));
            Assert.Equal(1, argc);
        }
    }

    [Fact]
    public void Skipper_OneBytePerRead_SkipsExactlyTheCommand()
    {
        byte[] big = BigCommand(5_000);
        byte[] stream = [.. big, .. Encode("PING")];
        var skipper = RespCommandSkipper.Start();
        int offset = 0;
        int end = 0;
        RespReadStatus status;
        do
        {
            // Data arrives one byte at a time; unconsumed bytes stay in front of the next arrival.
            end++;
            status = skipper.Skip(stream.AsSpan(offset, end - offset), out int used);
            offset += used;
        }
        while (status == RespReadStatus.Incomplete);

        Assert.Equal(RespReadStatus.Command, status);
        Assert.Equal(big.Length, offset);
    }

    [Theory]
    [InlineData("PING\r\n")]
    [InlineData("*0\r\n")]
    [InlineData("*1\r\n+PING\r\n")]
    [InlineData("*1\r\n$-3\r\n")]
    [InlineData("*x\r\n")]
    public void Skipper_NotAnArrayOfBulkStrings_Malformed(string input)
    {
        var skipper = RespCommandSkipper.Start();

        Assert.Equal(RespReadStatus.Malformed, skipper.Skip(Encoding.ASCII.GetBytes(input), out _));
    }

    [Fact]
    public void Skipper_AllocatesNothing()
    {
        byte[] big = BigCommand(5_000);
        var skipper = RespCommandSkipper.Start();
        skipper.Skip(big, out _);

        long before = GC.GetAllocatedBytesForCurrentThread();
        int total = 0;
        for (int i = 0; i < 1000; i++)
        {
            skipper = RespCommandSkipper.Start();
            skipper.Skip(big.AsSpan(0, 2_000), out int first);
            skipper.Skip(big.AsSpan(first), out int second);
            total += first + second;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1000 * big.Length, total);
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
