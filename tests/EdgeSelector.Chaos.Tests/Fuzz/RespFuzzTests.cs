using System.Text;
using CsCheck;
using EdgeSelector.Protocol.Resp;

namespace EdgeSelector.Chaos.Tests.Fuzz;

/// <summary>
/// The RESP command reader (src/EdgeSelector.Protocol/Resp, docs/resp.md): any bytes give a command, "incomplete" or
/// a documented refusal, never an exception, and report only offsets inside what they consumed; every array of bulk
/// strings round-trips, and every proper prefix of it is "incomplete".
/// </summary>
public sealed class RespFuzzTests
{
    private const int MaxArguments = 16;

    private static readonly Gen<byte[][]> Arguments = Gen.OneOf(
        Gen.Byte.Array[0, 64],
        Gen.String.Select(s => Encoding.UTF8.GetBytes(s)),
        Gen.OneOf("PING", "ART.SELECT", "ART.REWARD", "INFO", "HELLO", "QUIT", "1001,1002,1003", "WITHMETA").Select(s => Encoding.ASCII.GetBytes(s)))
        .Array[1, MaxArguments];

    private static readonly Gen<byte[]> Commands = Gen.OneOf(
        Gen.Byte.Array[0, 200],
        Gen.OneOf("*", "$", "\r\n", "*2\r\n", "$4\r\nPING\r\n", "*-1\r\n", "$-1\r\n", "*99999999999\r\n", "$4096\r\n", "PING\r\n", "*1\r\n$1\r\n")
            .Array[1, 8].Select(parts => Encoding.ASCII.GetBytes(string.Concat(parts))),
        Fuzz.Mutations(Arguments.Select(Encode)));

    [Fact]
    public Task AnyBytes_Reader_NeverThrows_AndReportsOnlyWhatItConsumed() =>
        Fuzz.RunAsync(Commands, ReadAll, print: Fuzz.Hex);

    [Fact]
    public Task WellFormedCommands_RoundTrip_EveryPrefixIncomplete() =>
        Fuzz.RunAsync(Gen.Select(Arguments, Gen.Int[0, 100_000], (args, cut) => (args, cut)), input =>
        {
            var (args, cut) = input;
            var bytes = Encode(args);
            var starts = new int[MaxArguments];
            var lengths = new int[MaxArguments];
            Assert.Equal(RespReadStatus.Command, RespCommandReader.TryRead(bytes, starts, lengths, out var count, out var consumed));
            Assert.Equal(bytes.Length, consumed);
            Assert.Equal(args.Length, count);
            for (var i = 0; i < count; i++)
            {
                Assert.Equal(args[i], bytes.AsSpan(starts[i], lengths[i]).ToArray());
            }

            var prefix = bytes.AsSpan(0, cut % bytes.Length);
            Assert.Equal(RespReadStatus.Incomplete, RespCommandReader.TryRead(prefix, starts, lengths, out _, out var none));
            Assert.Equal(0, none);
        }, print: i => Fuzz.Hex(Encode(i.args)));

    [Fact]
    public Task AnyBytes_InlineReader_NeverThrows_AndReportsOnlyWordsInsideItsOutput() =>
        Fuzz.RunAsync(Gen.OneOf(Gen.Byte.Array[0, 200], Gen.OneOf("ECHO ", "\"", "'", "\\", "\\x4", "1", " ", "\t", "\r", "\n").Array[1, 12]
            .Select(parts => Encoding.ASCII.GetBytes(string.Concat(parts)))), bytes =>
        {
            var status = RespInlineReader.TryFindLine(bytes, 64, out var lineLength, out var consumed);
            Assert.True(Enum.IsDefined(status), $"status {(int)status}");
            if (status != RespReadStatus.Command)
            {
                Assert.Equal(0, consumed);
                return;
            }

            Assert.InRange(consumed, lineLength + 1, Math.Min(lineLength + 2, bytes.Length));
            var output = new byte[lineLength];
            var starts = new int[MaxArguments];
            var lengths = new int[MaxArguments];
            status = RespInlineReader.Split(bytes.AsSpan(0, lineLength), output, starts, lengths, out var count);
            Assert.True(status is RespReadStatus.Command or RespReadStatus.UnbalancedQuotes or RespReadStatus.TooManyArguments, $"status {status}");
            Assert.InRange(count, 0, MaxArguments);
            for (var i = 0; i < count; i++)
            {
                Assert.InRange(starts[i], 0, lineLength);
                Assert.InRange(lengths[i], 0, lineLength - starts[i]);
            }
        }, print: Fuzz.Hex);

    [Fact]
    public Task AnyBytes_SkipperAfterTooLarge_NeverThrows_AndConsumesOnlyWhatItWasGiven() =>
        Fuzz.RunAsync(Gen.Select(Commands, Gen.Int[1, 64], (bytes, chunk) => (bytes, chunk)), input =>
        {
            // What the server does with a command found TooLarge: skip it as it streams in, chunk by chunk.
            var (bytes, chunk) = input;
            var skipper = RespCommandSkipper.Start();
            int start = 0, end = 0;
            for (var steps = 0; steps <= (2 * bytes.Length) + 2; steps++)
            {
                end = Math.Min(bytes.Length, end + chunk);
                var status = skipper.Skip(bytes.AsSpan(start, end - start), out var consumed);
                Assert.InRange(consumed, 0, end - start);
                Assert.True(Enum.IsDefined(status), $"status {(int)status}");
                start += consumed;
                if (status != RespReadStatus.Incomplete || (end == bytes.Length && consumed == 0))
                {
                    return;
                }
            }

            Assert.Fail("the skipper did not progress");
        }, print: i => Fuzz.Hex(i.bytes));

    /// <summary>Reads commands back to back as the server does, until the input runs out or a refusal.</summary>
    internal static void ReadAll(byte[] bytes)
    {
        var starts = new int[MaxArguments];
        var lengths = new int[MaxArguments];
        var data = bytes.AsSpan();
        for (var commands = 0; commands <= bytes.Length; commands++)
        {
            // A small limit too, so that the TooLarge paths are taken (docs/resp.md#input).
            var small = RespCommandReader.TryRead(data, starts, lengths, 48, out _, out var smallConsumed);
            Assert.True(Enum.IsDefined(small) && (small is RespReadStatus.Command or RespReadStatus.Empty || smallConsumed == 0), $"status {small}, consumed {smallConsumed}");
            var status = RespCommandReader.TryRead(data, starts, lengths, out var count, out var consumed);
            Assert.True(Enum.IsDefined(status), $"status {(int)status}");
            if (status == RespReadStatus.Empty)
            {
                // "*0\r\n", "*-1\r\n": skipped as Redis skips it, the next command follows.
                Assert.InRange(consumed, 4, data.Length);
                Assert.Equal(0, count);
                data = data[consumed..];
                continue;
            }

            if (status != RespReadStatus.Command)
            {
                Assert.Equal(0, consumed);
                return;
            }

            Assert.InRange(consumed, 4, data.Length); // the shortest command is "*1\r\n$0\r\n\r\n"
            Assert.InRange(count, 1, MaxArguments);
            for (var i = 0; i < count; i++)
            {
                Assert.InRange(starts[i], 0, consumed);
                Assert.InRange(lengths[i], 0, consumed - starts[i]);
            }

            data = data[consumed..];
        }

        Assert.Fail("more commands than bytes: the reader did not progress");
    }

    private static byte[] Encode(byte[][] args)
    {
        var output = new List<byte>(Encoding.ASCII.GetBytes($"*{args.Length}\r\n"));
        foreach (var arg in args)
        {
            output.AddRange(Encoding.ASCII.GetBytes($"${arg.Length}\r\n"));
            output.AddRange(arg);
            output.AddRange("\r\n"u8.ToArray());
        }

        return [.. output];
    }
}
