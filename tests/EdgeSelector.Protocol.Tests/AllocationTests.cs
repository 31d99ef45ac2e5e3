using System.Buffers;

namespace EdgeSelector.Protocol.Tests;

/// <summary>Backs the "allocation-free" claims on <see cref="FrameReader"/>, <see cref="PayloadReader"/>, <see cref="FrameWriter"/> and <see cref="RequestDispatcher"/>.</summary>
public class AllocationTests
{
    private const int Rounds = 5_000;

    private struct CountingHandler : IRequestHandler
    {
        public long Calls;

        public void OnSelect(ulong requestId, in RequestContext context, in TitleCandidate title) => Calls++;

        public void OnSelectPage(ulong requestId, in RequestContext context, ReadOnlySpan<TitleCandidate> titles) => Calls += titles.Length;

        public void OnReward(ulong requestId, in RewardRequest reward) => Calls++;

        public void OnPing(ulong requestId, ulong nonce) => Calls++;

        public void OnRequestError(ulong requestId, ErrorCode error) => Calls++;
    }

    private static long ParseAll(ReadOnlySequence<byte> input, TitleCandidate[] scratch, SelectResult[] results)
    {
        var handler = new CountingHandler();
        ReadOnlySequence<byte> buffer = input;
        while (FrameReader.TryReadFrame(ref buffer, ProtocolOptions.Default, out Frame frame, out _))
        {
            switch (frame.Opcode)
            {
                case Opcode.SelectResult:
                    PayloadReader.ReadSelectResult(frame.Payload, out _);
                    break;
                case Opcode.SelectPageResult:
                    PayloadReader.ReadSelectPageResult(frame.Payload, results, out _);
                    break;
                case Opcode.RewardResult:
                    PayloadReader.ReadRewardResult(frame.Payload, out _);
                    break;
                case Opcode.Pong:
                    PayloadReader.ReadPing(frame.Payload, out _);
                    break;
                case Opcode.Error:
                    PayloadReader.ReadError(frame.Payload, out _, out _);
                    break;
                default:
                    RequestDispatcher.Dispatch(in frame, ProtocolOptions.Default, scratch, ref handler);
                    break;
            }
        }

        return handler.Calls;
    }

    [Fact]
    public void ParseEveryOpcode_ContiguousAndMultiSegment_AllocatesNothing()
    {
        byte[] bytes = TestFrames.AllFrames();
        var contiguous = new ReadOnlySequence<byte>(bytes);
        ReadOnlySequence<byte> split = TestFrames.Split(bytes, bytes.Length / 2);
        ReadOnlySequence<byte> fragmented = TestFrames.OneBytePerSegment(bytes);
        var scratch = new TitleCandidate[ProtocolOptions.Default.MaxTitlesPerPage];
        var results = new SelectResult[16];
        for (int i = 0; i < 100; i++)
        {
            ParseAll(contiguous, scratch, results);
            ParseAll(split, scratch, results);
            ParseAll(fragmented, scratch, results);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        long calls = 0;
        for (int i = 0; i < Rounds; i++)
        {
            calls += ParseAll(contiguous, scratch, results);
            calls += ParseAll(split, scratch, results);
            calls += ParseAll(fragmented, scratch, results);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(calls > 0);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void WriteEveryOpcode_IntoReusedBuffer_AllocatesNothing()
    {
        var output = new ArrayBufferWriter<byte>(64 * 1024);
        RequestContext context = TestFrames.Context();
        TitleCandidate[] titles = TestFrames.Titles(40);
        SelectResult[] results = Enumerable.Repeat(TestFrames.Result, 40).ToArray();

        void WriteAll()
        {
            output.ResetWrittenCount();
            FrameWriter.WriteSelect(output, 1, in context, in TestFrames.Title);
            FrameWriter.WriteSelectPage(output, 2, in context, titles);
            FrameWriter.WriteReward(output, 3, in TestFrames.Reward);
            FrameWriter.WritePing(output, 4, 5);
            FrameWriter.WriteSelectResult(output, 1, in TestFrames.Result);
            FrameWriter.WriteSelectPageResult(output, 2, results);
            FrameWriter.WriteRewardResult(output, 3, RewardStatus.Accepted);
            FrameWriter.WritePong(output, 4, 5);
            FrameWriter.WriteError(output, 5, ErrorCode.MalformedPayload);
        }

        for (int i = 0; i < 100; i++)
        {
            WriteAll();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Rounds; i++)
        {
            WriteAll();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(output.WrittenCount > 0);
        Assert.Equal(0, allocated);
    }
}
