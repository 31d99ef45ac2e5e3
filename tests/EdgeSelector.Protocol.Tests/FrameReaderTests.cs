using System.Buffers;
using System.Buffers.Binary;

namespace EdgeSelector.Protocol.Tests;

public class FrameReaderTests
{
    [Fact]
    public void TryReadFrame_EveryPrefix_IncompleteAndConsumesNothing()
    {
        byte[] bytes = TestFrames.Build(o => FrameWriter.WriteSelect(o, 1, TestFrames.Context(), in TestFrames.Title));

        for (int length = 0; length < bytes.Length; length++)
        {
            byte[] prefix = bytes[..length];
            foreach (ReadOnlySequence<byte> input in new[] { new ReadOnlySequence<byte>(prefix), TestFrames.OneBytePerSegment(prefix) })
            {
                ReadOnlySequence<byte> buffer = input;
                bool read = FrameReader.TryReadFrame(ref buffer, ProtocolOptions.Default, out _, out ErrorCode error);

                Assert.False(read, $"prefix {length}");
                Assert.Equal(ErrorCode.None, error);
                Assert.Equal(input.Start, buffer.Start);
                Assert.Equal(input.Length, buffer.Length);
            }
        }
    }

    [Fact]
    public void TryReadFrame_EverySplitOfAllFrames_SameFramesAsContiguous()
    {
        byte[] bytes = TestFrames.AllFrames();
        var expected = TestFrames.ReadAll(new ReadOnlySequence<byte>(bytes));
        Assert.Equal(9, expected.Frames.Count);

        for (int at = 0; at <= bytes.Length; at++)
        {
            var actual = TestFrames.ReadAll(TestFrames.Split(bytes, at));

            Assert.Equal(ErrorCode.None, actual.Error);
            Assert.Equal(0, actual.Remaining);
            Assert.Equal(expected.Frames.Count, actual.Frames.Count);
            for (int i = 0; i < expected.Frames.Count; i++)
            {
                Assert.Equal(expected.Frames[i].Header, actual.Frames[i].Header);
                Assert.Equal(expected.Frames[i].Payload, actual.Frames[i].Payload);
            }
        }
    }

    [Fact]
    public void TryReadFrame_OneBytePerSegment_SameFramesAsContiguous()
    {
        byte[] bytes = TestFrames.AllFrames();

        var expected = TestFrames.ReadAll(new ReadOnlySequence<byte>(bytes));
        var actual = TestFrames.ReadAll(TestFrames.OneBytePerSegment(bytes));

        Assert.Equal(expected.Frames.Select(f => f.Header), actual.Frames.Select(f => f.Header));
        Assert.Equal(0, actual.Remaining);
    }

    [Fact]
    public void TryReadFrame_FrameThenPartialFrame_ReadsFirstAndLeavesRest()
    {
        byte[] one = TestFrames.Build(o => FrameWriter.WritePing(o, 1, 5));
        byte[] bytes = [.. one, .. one[..7]];
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.True(FrameReader.TryReadFrame(ref buffer, ProtocolOptions.Default, out Frame frame, out _));
        Assert.Equal(1UL, frame.RequestId);
        Assert.False(FrameReader.TryReadFrame(ref buffer, ProtocolOptions.Default, out _, out ErrorCode error));
        Assert.Equal(ErrorCode.None, error);
        Assert.Equal(7, buffer.Length);
    }

    [Fact]
    public void TryReadFrame_LengthOverMaxFrameSize_FrameTooLargeFromHeaderAloneWithRequestId()
    {
        var options = new ProtocolOptions { MaxFrameSize = 1024 };
        byte[] header = new byte[FrameHeader.Size];
        new FrameHeader(1025, 1, Opcode.Select, 0, 42).Write(header);
        var buffer = new ReadOnlySequence<byte>(header);

        Assert.False(FrameReader.TryReadFrame(ref buffer, options, out Frame frame, out ErrorCode error));
        Assert.Equal(ErrorCode.FrameTooLarge, error);
        Assert.True(ErrorCodes.IsFatal(error));
        Assert.Equal(42UL, frame.RequestId);
        Assert.Equal(FrameHeader.Size, buffer.Length);
    }

    [Fact]
    public void TryReadFrame_LengthEqualToMaxFrameSize_Accepted()
    {
        var options = new ProtocolOptions { MaxFrameSize = 1024 };
        byte[] payload = new byte[1024 - FrameHeader.Size];
        payload[0] = 0x90; // Not a valid PING (trailing bytes), but framing does not look inside.
        var buffer = new ReadOnlySequence<byte>(TestFrames.RawFrame(Opcode.Ping, 1, payload));

        Assert.True(FrameReader.TryReadFrame(ref buffer, options, out Frame frame, out _));
        Assert.Equal(1024u - FrameHeader.Size, (uint)frame.Payload.Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(0xFF)]
    public void TryReadFrame_BadVersion_UnsupportedVersionAndRequestIdZero(byte version)
    {
        var buffer = new ReadOnlySequence<byte>(TestFrames.RawFrame(Opcode.Ping, 42, [0x90], version));

        Assert.False(FrameReader.TryReadFrame(ref buffer, ProtocolOptions.Default, out Frame frame, out ErrorCode error));
        Assert.Equal(ErrorCode.UnsupportedVersion, error);
        Assert.True(ErrorCodes.IsFatal(error));
        Assert.Equal(0UL, frame.RequestId);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(15u)]
    public void TryReadFrame_LengthSmallerThanHeader_MalformedHeader(uint length)
    {
        byte[] header = new byte[FrameHeader.Size];
        new FrameHeader(length, 1, Opcode.Ping, 0, 1).Write(header);
        var buffer = new ReadOnlySequence<byte>(header);

        Assert.False(FrameReader.TryReadFrame(ref buffer, ProtocolOptions.Default, out _, out ErrorCode error));
        Assert.Equal(ErrorCode.MalformedHeader, error);
        Assert.True(ErrorCodes.IsFatal(error));
    }

    [Fact]
    public void TryReadFrame_HttpRequestInsteadOfFrame_FatalError()
    {
        var buffer = new ReadOnlySequence<byte>("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());

        Assert.False(FrameReader.TryReadFrame(ref buffer, ProtocolOptions.Default, out _, out ErrorCode error));
        Assert.True(ErrorCodes.IsFatal(error));
    }

    [Fact]
    public void TryReadFrame_UnknownFlags_Ignored()
    {
        byte[] bytes = TestFrames.Build(o => FrameWriter.WritePing(o, 9, 1));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(6), 0xFFFF);
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.True(FrameReader.TryReadFrame(ref buffer, ProtocolOptions.Default, out Frame frame, out _));
        Assert.Equal(0xFFFF, frame.Header.Flags);
    }

    [Fact]
    public void ProtocolOptions_OutOfRange_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ProtocolOptions { MaxFrameSize = 16 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new ProtocolOptions { MaxFrameSize = int.MaxValue });
        Assert.Throws<ArgumentOutOfRangeException>(() => new ProtocolOptions { MaxTitlesPerPage = 0 });
    }
}
