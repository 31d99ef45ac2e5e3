using System.Buffers;
using System.Text;

namespace EdgeSelector.Protocol.Tests;

public class RoundTripTests
{
    internal static RecordingHandler Dispatch(byte[] bytes, ProtocolOptions? options = null)
    {
        options ??= ProtocolOptions.Default;
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.True(FrameReader.TryReadFrame(ref buffer, options, out Frame frame, out ErrorCode error), $"frame error {error}");
        Assert.True(buffer.IsEmpty);
        var handler = new RecordingHandler();
        var scratch = new TitleCandidate[options.MaxTitlesPerPage];
        RequestDispatcher.Dispatch(in frame, options, scratch, ref handler);
        return handler;
    }

    private static Frame ReadSingle(byte[] bytes, Opcode expected)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.True(FrameReader.TryReadFrame(ref buffer, ProtocolOptions.Default, out Frame frame, out _));
        Assert.Equal(expected, frame.Opcode);
        Assert.Equal(FrameHeader.CurrentVersion, frame.Header.Version);
        Assert.Equal((uint)bytes.Length, frame.Header.Length);
        return frame;
    }

    private static void AssertContextEqual(RequestContext expected, RequestContext actual)
    {
        Assert.Equal(expected.MemberId, actual.MemberId);
        Assert.Equal(expected.Country, actual.Country);
        Assert.Equal(expected.Language, actual.Language);
        Assert.Equal(expected.Device, actual.Device);
        Assert.Equal(expected.HourOfDay, actual.HourOfDay);
        Assert.Equal(expected.DayOfWeek, actual.DayOfWeek);
        Assert.Equal(expected.GenreSpan.ToArray(), actual.GenreSpan.ToArray());
        Assert.Equal(expected.TimestampUnixMs, actual.TimestampUnixMs);
    }

    [Theory]
    [InlineData(true, 1_764_300_000_000)]
    [InlineData(false, 0)]
    public void WriteSelect_ReadBack_SameRequest(bool withGenres, long timestamp)
    {
        RequestContext context = TestFrames.Context(withGenres, timestamp);
        byte[] bytes = TestFrames.Build(o => FrameWriter.WriteSelect(o, 77, in context, in TestFrames.Title));

        RecordingHandler handler = Dispatch(bytes);

        Assert.Equal("select", handler.Last);
        Assert.Equal(77UL, handler.RequestId);
        AssertContextEqual(context, handler.Context);
        Assert.Equal(withGenres ? 5 : 0, handler.Context.GenreCount);
        Assert.Equal(TestFrames.Title, handler.Title);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(256)]
    public void WriteSelectPage_ReadBack_SameTitlesInOrder(int count)
    {
        RequestContext context = TestFrames.Context();
        TitleCandidate[] titles = TestFrames.Titles(count);
        byte[] bytes = TestFrames.Build(o => FrameWriter.WriteSelectPage(o, 78, in context, titles));

        RecordingHandler handler = Dispatch(bytes);

        Assert.Equal("page", handler.Last);
        Assert.Equal(78UL, handler.RequestId);
        AssertContextEqual(context, handler.Context);
        Assert.Equal(titles, handler.Titles);
        Assert.Equal(FrameWriter.SelectPageFrameSize(in context, count), bytes.Length);
    }

    [Theory]
    [InlineData(1_764_300_060_000, 0x0123_4567_89AB_CDEFUL)]
    [InlineData(0, 0x0123_4567_89AB_CDEFUL)]
    [InlineData(0, ulong.MaxValue)]
    [InlineData(1_764_300_060_000, 0UL)]
    public void WriteReward_ReadBack_SameRewardAndTag(long timestamp, ulong tag)
    {
        RewardRequest reward = TestFrames.Reward with { TimestampUnixMs = timestamp, EventTag = tag };
        byte[] bytes = TestFrames.Build(o => FrameWriter.WriteReward(o, 79, in reward));

        RecordingHandler handler = Dispatch(bytes);

        Assert.Equal("reward", handler.Last);
        Assert.Equal(79UL, handler.RequestId);
        Assert.Equal(reward, handler.Reward);
    }

    [Fact]
    public void WritePing_ReadBack_SameNonce()
    {
        byte[] bytes = TestFrames.Build(o => FrameWriter.WritePing(o, 80, ulong.MaxValue));

        RecordingHandler handler = Dispatch(bytes);

        Assert.Equal("ping", handler.Last);
        Assert.Equal(80UL, handler.RequestId);
        Assert.Equal(ulong.MaxValue, handler.Nonce);
    }

    [Fact]
    public void WritePong_ReadBack_SameNonce()
    {
        Frame frame = ReadSingle(TestFrames.Build(o => FrameWriter.WritePong(o, 81, 12345)), Opcode.Pong);

        Assert.Equal(ErrorCode.None, PayloadReader.ReadPing(frame.Payload, out ulong nonce));
        Assert.Equal(81UL, frame.RequestId);
        Assert.Equal(12345UL, nonce);
    }

    [Fact]
    public void WriteSelectResult_ReadBack_SameResult()
    {
        Frame frame = ReadSingle(TestFrames.Build(o => FrameWriter.WriteSelectResult(o, 82, in TestFrames.Result)), Opcode.SelectResult);

        Assert.Equal(ErrorCode.None, PayloadReader.ReadSelectResult(frame.Payload, out SelectResult result));
        Assert.Equal(82UL, frame.RequestId);
        Assert.Equal(TestFrames.Result, result);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(300)]
    public void WriteSelectPageResult_ReadBack_SameResultsInOrder(int count)
    {
        SelectResult[] results = Enumerable.Range(0, count)
            .Select(i => TestFrames.Result with { TitleId = (uint)i, Reason = (FallbackReason)(i % 8) })
            .ToArray();
        byte[] bytes = TestFrames.Build(o => FrameWriter.WriteSelectPageResult(o, 83, results));
        Frame frame = ReadSingle(bytes, Opcode.SelectPageResult);

        var read = new SelectResult[count];
        Assert.Equal(ErrorCode.None, PayloadReader.ReadSelectPageResult(frame.Payload, read, out int n));
        Assert.Equal(count, n);
        Assert.Equal(results, read);
        Assert.Equal(FrameWriter.SelectPageResultFrameSize(count), bytes.Length);
    }

    [Fact]
    public void ReadSelectPageResult_MoreEntriesThanDestination_TooManyTitles()
    {
        byte[] bytes = TestFrames.Build(o => FrameWriter.WriteSelectPageResult(o, 83, [TestFrames.Result, TestFrames.Result]));
        Frame frame = ReadSingle(bytes, Opcode.SelectPageResult);

        Assert.Equal(ErrorCode.TooManyTitles, PayloadReader.ReadSelectPageResult(frame.Payload, new SelectResult[1], out int n));
        Assert.Equal(0, n);
    }

    [Fact]
    public void ReadSelectResult_FromAServerWithoutTags_TagIsZero_NilTagToo()
    {
        // Six elements (before event tags) and a nil tag both read as "no tag"; a newer element after the tag is skipped.
        byte[] six = TestFrames.RawFrame(Opcode.SelectResult, 1, [0x96, 0x07, 0x08, 0x09, 0xca, 0x3f, 0x80, 0x00, 0x00, 0x01, 0x00]);
        byte[] nil = TestFrames.RawFrame(Opcode.SelectResult, 1, [0x97, 0x07, 0x08, 0x09, 0xca, 0x3f, 0x80, 0x00, 0x00, 0x01, 0x00, 0xc0]);
        byte[] eight = TestFrames.RawFrame(Opcode.SelectResult, 1, [0x98, 0x07, 0x08, 0x09, 0xca, 0x3f, 0x80, 0x00, 0x00, 0x01, 0x00, 0x2a, 0xa1, 0x78]);

        foreach (var (bytes, tag) in new[] { (six, 0UL), (nil, 0UL), (eight, 42UL) })
        {
            Frame frame = ReadSingle(bytes, Opcode.SelectResult);
            Assert.Equal(ErrorCode.None, PayloadReader.ReadSelectResult(frame.Payload, out SelectResult result));
            Assert.Equal(new SelectResult(7, 8, 9, 1f, 1, FallbackReason.None, tag), result);
        }
    }

    [Fact]
    public void ReadReward_WithoutTagOrNilTag_TagIsZero_ExtraElementsSkipped()
    {
        // [id, played, minutes, fraction], [..., nil, nil] and [..., nil, 42, "future"].
        byte[] four = TestFrames.RawFrame(Opcode.Reward, 1, [0x94, 0x09, 0xc3, 0x01, 0x00]);
        byte[] nilTag = TestFrames.RawFrame(Opcode.Reward, 1, [0x96, 0x09, 0xc3, 0x01, 0x00, 0xc0, 0xc0]);
        byte[] seven = TestFrames.RawFrame(Opcode.Reward, 1, [0x97, 0x09, 0xc3, 0x01, 0x00, 0xc0, 0x2a, 0xa1, 0x78]);

        Assert.Equal(new RewardRequest(9, true, 1f, 0f), Dispatch(four).Reward);
        Assert.Equal(new RewardRequest(9, true, 1f, 0f), Dispatch(nilTag).Reward);
        Assert.Equal(new RewardRequest(9, true, 1f, 0f, 0, 42), Dispatch(seven).Reward);
    }

    [Fact]
    public void RewardFor_SelectResult_CarriesItsEventIdAndTag()
    {
        RewardRequest reward = RewardRequest.For(TestFrames.Result, true, 3f, 0.5f, 17);

        Assert.Equal(new RewardRequest(TestFrames.Result.EventId, true, 3f, 0.5f, 17, TestFrames.Result.EventTag), reward);
    }

    [Theory]
    [InlineData(RewardStatus.Accepted)]
    [InlineData(RewardStatus.Duplicate)]
    [InlineData(RewardStatus.UnknownEvent)]
    [InlineData(RewardStatus.Unverified)]
    public void WriteRewardResult_ReadBack_SameStatus(RewardStatus status)
    {
        Frame frame = ReadSingle(TestFrames.Build(o => FrameWriter.WriteRewardResult(o, 84, status)), Opcode.RewardResult);

        Assert.Equal(ErrorCode.None, PayloadReader.ReadRewardResult(frame.Payload, out RewardStatus read));
        Assert.Equal(status, read);
    }

    [Theory]
    [InlineData(ErrorCode.FrameTooLarge)]
    [InlineData(ErrorCode.MalformedPayload)]
    [InlineData(ErrorCode.TooManyInFlight)]
    [InlineData(ErrorCode.ShuttingDown)]
    public void WriteError_ReadBack_CodeAndMessage(ErrorCode code)
    {
        Frame frame = ReadSingle(TestFrames.Build(o => FrameWriter.WriteError(o, 85, code)), Opcode.Error);

        Assert.Equal(ErrorCode.None, PayloadReader.ReadError(frame.Payload, out ErrorCode read, out ReadOnlySequence<byte> message));
        Assert.Equal(code, read);
        Assert.Equal(Encoding.UTF8.GetString(ErrorCodes.Message(code)), Encoding.UTF8.GetString(message));
    }

    [Fact]
    public void WriteAllFrames_ReadBack_EveryOpcodeInOrder()
    {
        (List<(FrameHeader Header, byte[] Payload)> frames, ErrorCode error, long remaining) =
            TestFrames.ReadAll(new ReadOnlySequence<byte>(TestFrames.AllFrames()));

        Assert.Equal(ErrorCode.None, error);
        Assert.Equal(0, remaining);
        Assert.Equal(
            [Opcode.Select, Opcode.SelectPage, Opcode.Reward, Opcode.Ping, Opcode.SelectResult, Opcode.SelectPageResult,
             Opcode.RewardResult, Opcode.Pong, Opcode.Error],
            frames.Select(f => f.Header.Opcode));
    }
}
