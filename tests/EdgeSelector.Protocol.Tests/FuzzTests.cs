using System.Buffers;
using System.Diagnostics;

namespace EdgeSelector.Protocol.Tests;

public class FuzzTests
{
    private const int Iterations = 20_000;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ReadAndDispatch_MutatedFrames_NeverThrowAndAlwaysProgress(int seed)
    {
        var random = new Random(seed);
        byte[] valid = TestFrames.AllFrames();
        var options = new ProtocolOptions { MaxTitlesPerPage = 32 };
        var scratch = new TitleCandidate[options.MaxTitlesPerPage];
        var results = new SelectResult[64];
        var clock = Stopwatch.StartNew();

        for (int i = 0; i < Iterations; i++)
        {
            byte[] input = Mutate(random, valid);
            ReadOnlySequence<byte> buffer = random.Next(2) == 0
                ? new ReadOnlySequence<byte>(input)
                : TestFrames.Split(input, random.Next(input.Length + 1));

            // Each successful read consumes at least a header, so this loop is bounded by the input length.
            int frames = 0;
            while (FrameReader.TryReadFrame(ref buffer, options, out Frame frame, out ErrorCode error))
            {
                Assert.True(++frames <= input.Length / FrameHeader.Size);
                var handler = new RecordingHandler();
                RequestDispatcher.Dispatch(in frame, options, scratch, ref handler);
                Assert.NotNull(handler.Last);
                PayloadReader.ReadSelectResult(frame.Payload, out _);
                PayloadReader.ReadSelectPageResult(frame.Payload, results, out _);
                PayloadReader.ReadRewardResult(frame.Payload, out _);
                PayloadReader.ReadError(frame.Payload, out _, out _);
                _ = error;
            }
        }

        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), $"fuzz took {clock.Elapsed}");
    }

    // Mostly payload damage (the header survives, so payload parsers see it), sometimes header damage or truncation.
    private static byte[] Mutate(Random random, byte[] valid)
    {
        byte[] bytes = (byte[])valid.Clone();
        switch (random.Next(4))
        {
            case 0:
            case 1:
                for (int n = random.Next(1, 6); n > 0; n--)
                {
                    int at = random.Next(bytes.Length);
                    if ((at % 64) >= FrameHeader.Size || random.Next(8) == 0)
                    {
                        bytes[at] = (byte)random.Next(256);
                    }
                }

                return bytes;
            case 2:
                return bytes[..random.Next(bytes.Length)];
            default:
                byte[] noise = new byte[random.Next(1, 200)];
                random.NextBytes(noise);
                int cut = random.Next(bytes.Length);
                return [.. bytes[..cut], .. noise, .. bytes[cut..]];
        }
    }
}
