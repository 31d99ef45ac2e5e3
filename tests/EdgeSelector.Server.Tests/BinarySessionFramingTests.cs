using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Binary;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Tests;

/// <summary>
/// The binary session cuts each frame once, in chunks of <see cref="ServingSession.ProfilesAhead"/> for the profile
/// look-ahead, and answers the frames it cut: every request answered once, in order, with its own profile, across
/// chunks, segment splits, a pause at the in-flight limit, an incomplete last frame and a fatal frame.
/// </summary>
public sealed class BinarySessionFramingTests : IDisposable
{
    private readonly TestNode _node = TestNode.Start(o => o.LogImpressions = false);

    public BinarySessionFramingTests()
    {
        for (ulong m = 1; m <= 200; m += 2)
        {
            _node.StoreProfile(m); // odd members have a profile, even ones none
        }
    }

    public void Dispose() => _node.Dispose();

    [Fact]
    public void Process_MoreFramesThanProfilesAhead_EachAnsweredOnceInOrderIncompleteLastLeft()
    {
        var requests = ServingSession.ProfilesAhead * 2 + 22;
        var (bytes, partial) = Selects(requests, partialAfter: true);
        using var serving = _node.Session();
        var buffer = new ReadOnlySequence<byte>(bytes);

        var (outcome, completed, answers) = Run(serving, ref buffer, maxInFlight: 4096);

        Assert.Equal(BatchOutcome.Done, outcome);
        Assert.Equal(requests, completed);
        Assert.Equal(partial, buffer.Length); // the incomplete frame is left, unconsumed
        AssertSelectAnswers(answers, requests);
        Assert.Equal(requests, serving.ProfilesReadAhead);
    }

    [Fact]
    public void Process_SplitAcrossSegmentsAtEveryByte_SameAnswersAsContiguous()
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.WriteSelect(writer, 1, Member(1), new TitleCandidate(1001, 0.5f, false));
        FrameWriter.WriteSelectPage(writer, 2, Member(2), [new TitleCandidate(1002, 0.5f, false), new TitleCandidate(1003, 0.5f, false)]);
        FrameWriter.WritePing(writer, 3, 99);
        writer.Write(Header(16, 1, (Opcode)0x42, 4)); // unknown opcode: answered ERROR, the connection stays
        FrameWriter.WriteSelect(writer, 5, Member(3), new TitleCandidate(1004, 0.5f, false));
        FrameWriter.WriteSelect(writer, 6, Member(4), new TitleCandidate(1005, 0.5f, false));
        var whole = writer.WrittenSpan.ToArray();
        byte[] bytes = [.. whole, .. whole.AsSpan(0, 20)]; // and the start of a seventh frame

        using var contiguousSession = _node.Session();
        var contiguous = new ReadOnlySequence<byte>(bytes);
        var expected = Run(contiguousSession, ref contiguous, maxInFlight: 4096);
        Assert.Equal(BatchOutcome.Done, expected.Outcome);
        Assert.Equal(6, expected.Completed);
        Assert.Equal([1UL, 2UL, 3UL, 4UL, 5UL, 6UL], expected.Answers.Select(a => a.RequestId));
        Assert.Equal([Opcode.SelectResult, Opcode.SelectPageResult, Opcode.Pong, Opcode.Error, Opcode.SelectResult, Opcode.SelectResult], expected.Answers.Select(a => a.Opcode));

        for (var at = 0; at <= bytes.Length; at++)
        {
            using var serving = _node.Session();
            var buffer = Sequences.Split(bytes, at);
            var actual = Run(serving, ref buffer, maxInFlight: 4096);

            Assert.Equal(BatchOutcome.Done, actual.Outcome);
            Assert.Equal(6, actual.Completed);
            Assert.Equal(20, buffer.Length);
            Assert.Equal(expected.Answers, actual.Answers);
            Assert.Equal(4, serving.ProfilesReadAhead); // members 1, 2 (the page), 3 and 4
        }
    }

    [Fact]
    public void Process_FatalFrameAfterMoreThanProfilesAheadGoodOnes_GoodOnesAnsweredThenErrorWithItsIdAndClose()
    {
        var good = ServingSession.ProfilesAhead + 6;
        var (selects, _) = Selects(good, partialAfter: false);
        var bad = Header(1 << 30, 1, Opcode.Select, 4242); // longer than MaxFrameSize: cannot be resynchronised
        var (after, _) = Selects(1, partialAfter: false);
        byte[] bytes = [.. selects, .. bad, .. after];

        foreach (var at in new[] { 0, 1, selects.Length / 2, selects.Length - 1, selects.Length, selects.Length + 8, bytes.Length })
        {
            using var serving = _node.Session();
            var buffer = Sequences.Split(bytes, at);
            var (outcome, completed, answers) = Run(serving, ref buffer, maxInFlight: 4096);

            Assert.Equal(BatchOutcome.Close, outcome);
            Assert.Equal(good, completed);
            AssertSelectAnswers(answers[..good], good);
            Assert.Equal((4242UL, Opcode.Error, ErrorCode.FrameTooLarge), (answers[good].RequestId, answers[good].Opcode, answers[good].Error));
            Assert.Equal(good + 1, answers.Count);
        }
    }

    [Theory]
    [InlineData(5)]
    [InlineData(64)]
    [InlineData(100)]
    public void Process_PausedAtTheInFlightLimitThenResumed_EachAnsweredOnceInOrder(int maxInFlight)
    {
        const int Requests = 150;
        var (bytes, partial) = Selects(Requests, partialAfter: true);
        using var serving = _node.Session();
        var buffer = new ReadOnlySequence<byte>(bytes);
        var answers = new List<Answer>();
        var batches = 0;
        BatchOutcome outcome;
        do
        {
            (outcome, var completed, var batch) = Run(serving, ref buffer, maxInFlight);
            Assert.True(completed <= maxInFlight, $"{completed} requests in one batch");
            Assert.Equal(outcome == BatchOutcome.Paused ? maxInFlight : Requests % maxInFlight, completed);
            answers.AddRange(batch);
            batches++;
        }
        while (outcome == BatchOutcome.Paused && batches < 100);

        Assert.Equal(BatchOutcome.Done, outcome);
        Assert.Equal((Requests / maxInFlight) + 1, batches);
        Assert.Equal(partial, buffer.Length);
        AssertSelectAnswers(answers, Requests);
        Assert.Equal(Requests, serving.ProfilesReadAhead);
    }

    // SELECTs 1..count for members 1..count (member m asks for title 1001 + m % 12), then, if asked, the first 30 bytes
    // of another: returns the bytes and the length of that partial frame.
    private static (byte[] Bytes, int Partial) Selects(int count, bool partialAfter)
    {
        var writer = new ArrayBufferWriter<byte>();
        for (var m = 1; m <= count; m++)
        {
            FrameWriter.WriteSelect(writer, (ulong)m, Member((ulong)m), new TitleCandidate(1001 + (uint)(m % 12), 0.5f, false));
        }

        var bytes = writer.WrittenSpan.ToArray();
        return partialAfter ? ([.. bytes, .. bytes.AsSpan(0, 30)], 30) : (bytes, 0);
    }

    private static byte[] Header(uint length, byte version, Opcode opcode, ulong requestId)
    {
        var header = new byte[FrameHeader.Size];
        new FrameHeader(length, version, opcode, 0, requestId).Write(header);
        return header;
    }

    // SELECTs 1..count answered in order, each with its member's profile (odd members stored).
    private static void AssertSelectAnswers(List<Answer> answers, int count)
    {
        Assert.Equal(Enumerable.Range(1, count).Select(i => (ulong)i), answers.Select(a => a.RequestId));
        for (var i = 0; i < count; i++)
        {
            var member = i + 1;
            Assert.Equal(Opcode.SelectResult, answers[i].Opcode);
            Assert.Equal(1001 + (uint)(member % 12), answers[i].TitleId);
            Assert.Equal(member % 2 == 1 ? FallbackReason.None : FallbackReason.NoProfile, answers[i].Reason);
        }
    }

    private (BatchOutcome Outcome, int Completed, List<Answer> Answers) Run(ServingSession serving, ref ReadOnlySequence<byte> buffer, int maxInFlight)
    {
        var output = new Pipe();
        var session = new BinarySession(serving, output.Writer, _node.Node.Options.ToProtocolOptions(), _node.Node.Metrics, maxInFlight);
        var now = Stopwatch.GetTimestamp();
        var outcome = session.Process(ref buffer, new Batch(now, now), out var completed);
        output.Writer.FlushAsync().GetAwaiter().GetResult();
        var answers = new List<Answer>();
        if (output.Reader.TryRead(out var read))
        {
            var written = read.Buffer;
            while (FrameReader.TryReadFrame(ref written, new ProtocolOptions(), out var frame, out _))
            {
                var answer = new Answer(frame.RequestId, frame.Opcode, FallbackReason.None, 0, ErrorCode.None);
                if (frame.Opcode == Opcode.SelectResult)
                {
                    Assert.Equal(ErrorCode.None, PayloadReader.ReadSelectResult(frame.Payload, out var result));
                    answer = answer with { Reason = result.Reason, TitleId = result.TitleId };
                }
                else if (frame.Opcode == Opcode.Error)
                {
                    Assert.Equal(ErrorCode.None, PayloadReader.ReadError(frame.Payload, out var code, out _));
                    answer = answer with { Error = code };
                }

                answers.Add(answer);
            }

            output.Reader.AdvanceTo(read.Buffer.End);
        }

        return (outcome, completed, answers);
    }

    private readonly record struct Answer(ulong RequestId, Opcode Opcode, FallbackReason Reason, uint TitleId, ErrorCode Error);
}
