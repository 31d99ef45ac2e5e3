using System.Buffers;

namespace EdgeSelector.Protocol.Tests;

/// <summary>
/// <see cref="FrameReader.ReadFrames"/> (a server's look-ahead cuts each frame once) gives what
/// <see cref="FrameReader.TryReadFrame"/> in a loop gives: the same frames, the same stop on incomplete or fatal input
/// with the same request id, at every split, in chunks smaller and larger than the input.
/// </summary>
public class FrameReaderBatchTests
{
    private static readonly int[] Chunks = [1, 3, 4, 64];

    [Fact]
    public void ReadFrames_EverySplitEveryChunk_SameFramesAsTryReadFrame()
    {
        byte[] bytes = [.. TestFrames.AllFrames(), .. TestFrames.AllFrames()];
        var expected = TestFrames.ReadAll(new ReadOnlySequence<byte>(bytes));
        Assert.Equal(18, expected.Frames.Count);

        foreach (int chunk in Chunks)
        {
            for (int at = 0; at <= bytes.Length; at++)
            {
                var actual = ReadAllInChunks(TestFrames.Split(bytes, at), chunk);

                Assert.Equal(ErrorCode.None, actual.Error);
                Assert.Equal(0, actual.Remaining);
                AssertSameFrames(expected.Frames, actual.Frames, $"split {at}, chunk {chunk}");
            }

            var perByte = ReadAllInChunks(TestFrames.OneBytePerSegment(bytes), chunk);
            Assert.Equal(0, perByte.Remaining);
            AssertSameFrames(expected.Frames, perByte.Frames, $"one byte per segment, chunk {chunk}");
        }
    }

    [Fact]
    public void ReadFrames_EveryPrefix_WholeFramesCutPartialOneLeftUnconsumed()
    {
        byte[] one = TestFrames.Build(o => FrameWriter.WriteSelect(o, 1, TestFrames.Context(), in TestFrames.Title));
        byte[] two = TestFrames.Build(o => FrameWriter.WritePing(o, 2, 7));
        byte[] bytes = [.. one, .. two];
        var frames = new Frame[64];

        for (int length = 0; length <= bytes.Length; length++)
        {
            int whole = (length >= one.Length ? 1 : 0) + (length == bytes.Length ? 1 : 0);
            foreach (ReadOnlySequence<byte> input in new[] { new ReadOnlySequence<byte>(bytes, 0, length), TestFrames.OneBytePerSegment(bytes[..length]) })
            {
                ReadOnlySequence<byte> buffer = input;
                int count = FrameReader.ReadFrames(ref buffer, ProtocolOptions.Default, frames, out ErrorCode error, out _);

                Assert.Equal(whole, count);
                Assert.Equal(ErrorCode.None, error);
                Assert.Equal(length - (whole == 0 ? 0 : whole == 1 ? one.Length : bytes.Length), buffer.Length);
                Assert.True(count < 1 || frames[0].RequestId == 1, $"prefix {length}");
            }
        }
    }

    [Theory]
    [InlineData(1, 42UL, ErrorCode.FrameTooLarge)]
    [InlineData(0, 0UL, ErrorCode.UnsupportedVersion)]
    public void ReadFrames_FatalFrameAfterGoodOnes_GoodOnesCutThenErrorAtEverySplit(byte version, ulong expectedId, ErrorCode expected)
    {
        var options = new ProtocolOptions { MaxFrameSize = 1024 };
        byte[] good = TestFrames.Build(o =>
        {
            FrameWriter.WriteSelect(o, 1, TestFrames.Context(), in TestFrames.Title);
            FrameWriter.WritePing(o, 2, 3);
        });
        byte[] bad = new byte[FrameHeader.Size];
        new FrameHeader(version == 1 ? 1025u : 20u, version, Opcode.Select, 0, 42).Write(bad);
        byte[] after = TestFrames.Build(o => FrameWriter.WritePing(o, 4, 5));
        byte[] bytes = [.. good, .. bad, .. after];
        var frames = new Frame[64];

        for (int at = 0; at <= bytes.Length; at++)
        {
            ReadOnlySequence<byte> buffer = TestFrames.Split(bytes, at);
            int count = FrameReader.ReadFrames(ref buffer, options, frames, out ErrorCode error, out ulong errorRequestId);

            Assert.Equal(2, count);
            Assert.Equal([1UL, 2UL], frames[..2].Select(f => f.RequestId));
            Assert.Equal(expected, error);
            Assert.Equal(expectedId, errorRequestId);
            Assert.Equal(bad.Length + after.Length, buffer.Length); // nothing of the bad frame is consumed
        }
    }

    [Fact]
    public void ReadFrames_MoreFramesThanSpace_StopsAtSpaceAndTheNextCallContinues()
    {
        byte[] bytes = TestFrames.Build(o =>
        {
            for (ulong id = 1; id <= 10; id++)
            {
                FrameWriter.WritePing(o, id, id);
            }
        });
        var buffer = new ReadOnlySequence<byte>(bytes);
        var frames = new Frame[4];

        Assert.Equal(4, FrameReader.ReadFrames(ref buffer, ProtocolOptions.Default, frames, out ErrorCode error, out _));
        Assert.Equal(ErrorCode.None, error);
        Assert.Equal(bytes.Length * 6 / 10, buffer.Length);
        Assert.Equal([1UL, 2UL, 3UL, 4UL], frames.Select(f => f.RequestId));
        Assert.Equal(4, FrameReader.ReadFrames(ref buffer, ProtocolOptions.Default, frames, out _, out _));
        Assert.Equal(2, FrameReader.ReadFrames(ref buffer, ProtocolOptions.Default, frames, out error, out _));
        Assert.Equal(ErrorCode.None, error);
        Assert.Equal([9UL, 10UL], frames[..2].Select(f => f.RequestId));
        Assert.Equal(0, buffer.Length);
    }

    [Fact]
    public void ReadFrames_ContiguousAndSplit_AllocatesNothing()
    {
        byte[] bytes = [.. TestFrames.AllFrames(), .. TestFrames.AllFrames()];
        ReadOnlySequence<byte> contiguous = new(bytes);
        ReadOnlySequence<byte> split = TestFrames.Split(bytes, bytes.Length / 2);
        var frames = new Frame[4];
        long Cut(int rounds)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int r = 0; r < rounds; r++)
            {
                foreach (ReadOnlySequence<byte> input in (ReadOnlySpan<ReadOnlySequence<byte>>)[contiguous, split])
                {
                    ReadOnlySequence<byte> buffer = input;
                    while (FrameReader.ReadFrames(ref buffer, ProtocolOptions.Default, frames, out _, out _) == frames.Length)
                    {
                    }
                }
            }

            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Cut(10);
        Assert.Equal(0, Cut(1_000));
    }

    private static (List<(FrameHeader Header, byte[] Payload)> Frames, ErrorCode Error, long Remaining) ReadAllInChunks(ReadOnlySequence<byte> buffer, int chunk)
    {
        var frames = new Frame[chunk];
        var all = new List<(FrameHeader, byte[])>();
        ErrorCode error;
        int count;
        int calls = 0;
        do
        {
            count = FrameReader.ReadFrames(ref buffer, ProtocolOptions.Default, frames, out error, out _);
            all.AddRange(frames[..count].Select(f => (f.Header, f.Payload.ToArray())));
            Assert.True(++calls <= 100, "ReadFrames did not stop");
        }
        while (count == chunk);

        return (all, error, buffer.Length);
    }

    private static void AssertSameFrames(List<(FrameHeader Header, byte[] Payload)> expected, List<(FrameHeader Header, byte[] Payload)> actual, string what)
    {
        Assert.True(expected.Count == actual.Count, $"{what}: {actual.Count} frames, expected {expected.Count}");
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Header, actual[i].Header);
            Assert.Equal(expected[i].Payload, actual[i].Payload);
        }
    }
}
