using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using EdgeSelector.Core.Features;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Binary;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Resp;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Tests;

/// <summary>
/// Issue 12.1: the profiles a batch's SELECTs need are read together before the batch is answered (ServingSession's
/// read-ahead table, filled by each front door's look-ahead), binary and RESP alike. The answers, their order and
/// their reasons are the ones the requests get one batch at a time; REWARD, PING and bad requests interleave; a
/// paused batch, a fatal frame and a shed batch keep their behaviour; reads that went to disk complete for the batch.
/// </summary>
public sealed class ProfileReadAheadTests : IDisposable
{
    private static readonly uint[] PageTitles = [1001, 1002, 1003];

    private readonly TestNode _node = TestNode.Start();

    public void Dispose() => _node.Dispose();

    [Fact]
    public void Binary_BatchOfSelects_ProfilesReadTogether_SameAnswersAndReasonsAsOneAtATime()
    {
        // Members 1-12: odd ones stored; 4 and 9 send genres (no profile read); a page, a REWARD and a PING between.
        for (ulong m = 1; m <= 12; m += 2)
        {
            _node.StoreProfile(m);
        }

        var frames = BinaryBatch(12);
        using var batched = _node.Session();
        var (outcome, completed, answers) = RunBinary(batched, frames);
        Assert.Equal(BatchOutcome.Done, outcome);
        Assert.Equal(15, completed);
        Assert.Equal(11, batched.ProfilesReadAhead); // 10 SELECTs (members 1-12 but 4 and 9) and the page need a profile

        using var single = _node.Session();
        var oneAtATime = new List<Answer>();
        foreach (var frame in Split(frames))
        {
            var (_, n, one) = RunBinary(single, frame);
            Assert.Equal(1, n);
            oneAtATime.AddRange(one);
        }

        Assert.Equal(11, single.ProfilesReadAhead);
        Assert.Equal(oneAtATime.Select(a => (a.RequestId, a.Opcode, string.Join(',', a.Reasons))), answers.Select(a => (a.RequestId, a.Opcode, string.Join(',', a.Reasons))));
        AssertAnswers(answers);
    }

    [Fact]
    public void Resp_BatchOfCommands_ProfilesReadTogether_SameReasonsAsOneAtATime()
    {
        _node.StoreProfile(21);
        _node.StoreProfile(23);
        var commands = new[]
        {
            Resp("ART.SELECT", "1001", "21", "WITHMETA"),
            Resp("ART.SELECT", "1002", "22", "WITHMETA"),
            Resp("PING"),
            Resp("GET", "23:1003"),
            Resp("ART.SELECT", "1004", "23", "COUNTRY", "fr", "WITHMETA"),
            Resp("ART.PAGE", "24", "1001", "1002"),
            Resp("ART.SELECT", "nope", "25", "WITHMETA"),
            Resp("ART.SELECT", "1005", "25", "WITHMETA"),
        };
        var input = commands.SelectMany(c => c).ToArray();

        using var batched = _node.Session();
        var (outcome, completed, text) = RunResp(batched, input);
        Assert.Equal(BatchOutcome.Done, outcome);
        Assert.Equal(commands.Length, completed);
        // Members 21, 22, 23 (GET), 23, 24 (page), 25 twice: the look-ahead names the bad command's member too (it does
        // not validate); its entry is passed over, the next ART.SELECT for 25 takes the one after.
        Assert.Equal(7, batched.ProfilesReadAhead);

        using var single = _node.Session();
        var oneAtATime = new StringBuilder();
        foreach (var command in commands)
        {
            var (_, n, one) = RunResp(single, command);
            Assert.Equal(1, n);
            oneAtATime.Append(one);
        }

        Assert.Equal(Reasons(oneAtATime.ToString()), Reasons(text));
        Assert.Equal([(long)FallbackReason.None, (long)FallbackReason.NoProfile, (long)FallbackReason.None, (long)FallbackReason.NoProfile], Reasons(text));
        Assert.Contains("+PONG", text, StringComparison.Ordinal);
        Assert.Contains("-ERR usage: ART.SELECT", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Binary_PausedAtTheInFlightLimit_RestAnsweredInOrderWithTheirProfiles()
    {
        for (ulong m = 1; m <= 12; m += 2)
        {
            _node.StoreProfile(m);
        }

        var frames = BinaryBatch(12);
        using var serving = _node.Session();
        var output = new Pipe();
        var session = new BinarySession(serving, output.Writer, _node.Node.Options.ToProtocolOptions(), _node.Node.Metrics, maxInFlight: 4);
        var buffer = new ReadOnlySequence<byte>(frames);
        var answers = new List<Answer>();
        var batches = 0;
        BatchOutcome outcome;
        do
        {
            outcome = session.Process(ref buffer, Now(), out var completed);
            Assert.True(completed <= 4, $"{completed} requests in one batch");
            answers.AddRange(Drain(output));
            batches++;
        }
        while (outcome == BatchOutcome.Paused && batches < 10);

        Assert.Equal(BatchOutcome.Done, outcome);
        Assert.Equal(4, batches);
        Assert.Equal(11, serving.ProfilesReadAhead);
        AssertAnswers(answers);
    }

    [Fact]
    public void Binary_FatalFrameMidBatch_EarlierRequestsAnsweredThenErrorAndClose()
    {
        _node.StoreProfile(1);
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.WriteSelect(writer, 1, Member(1), new TitleCandidate(1001, 0.5f, false));
        FrameWriter.WriteSelect(writer, 2, Member(2), new TitleCandidate(1002, 0.5f, false));
        writer.Write(new byte[FrameHeader.Size]); // version 0: the stream cannot be resynchronised
        FrameWriter.WriteSelect(writer, 3, Member(1), new TitleCandidate(1003, 0.5f, false));

        using var serving = _node.Session();
        var (outcome, completed, answers) = RunBinary(serving, writer.WrittenSpan.ToArray());

        Assert.Equal(BatchOutcome.Close, outcome);
        Assert.Equal(2, completed);
        Assert.Equal([Opcode.SelectResult, Opcode.SelectResult, Opcode.Error], answers.Select(a => a.Opcode));
        Assert.Equal([FallbackReason.None], answers[0].Reasons);
        Assert.Equal([FallbackReason.NoProfile], answers[1].Reasons);
        Assert.Equal(2, serving.ProfilesReadAhead); // the look-ahead stops at the bad frame
    }

    [Fact]
    public void Binary_BatchAlreadyTooOld_ShedWithoutReadingProfiles()
    {
        _node.StoreProfile(1);
        using var serving = _node.Session();
        var longAgo = Stopwatch.GetTimestamp() - (60 * Stopwatch.Frequency); // MaxQueueDelayMs is 10 s here
        var (outcome, _, answers) = RunBinary(serving, BinaryBatch(4), arrival: longAgo);

        Assert.Equal(BatchOutcome.Done, outcome);
        Assert.All(answers.Where(a => a.Opcode is Opcode.SelectResult or Opcode.SelectPageResult), a => Assert.All(a.Reasons, r => Assert.Equal(FallbackReason.Overload, r)));
        Assert.Equal(0, serving.ProfilesReadAhead);
    }

    [Fact]
    public void Binary_ProfilesOnDisk_PendingReadsCompletedForTheWholeBatch()
    {
        // 16 MB of profile memory (four 4 MB pages, the store's smallest) under ~35 MB of profiles: the first members'
        // records are on disk.
        using var node = TestNode.Start(o => o.ProfileMemoryMB = 16);
        const int Count = 400_000;
        var ids = new ulong[1000];
        var profiles = new MemberProfile[ids.Length];
        for (var from = 0; from < Count; from += ids.Length)
        {
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = (ulong)(from + i + 1) * 2; // even members are stored
                profiles[i] = new MemberProfile { Country = CountryCode.Pack("FR") };
                profiles[i].Genres[3] = 1f;
            }

            node.Node.Stores.Profiles.UpsertMany(ids, profiles);
        }

        Assert.True(node.Node.Stores.Profiles.HeadAddress > 0, "expected the first profiles to have been evicted to disk");
        var writer = new ArrayBufferWriter<byte>();
        for (var r = 1; r <= 40; r++)
        {
            // Among the first members stored (on disk), every fourth request for an odd (unknown) member.
            FrameWriter.WriteSelect(writer, (ulong)r, Member(DiskMember(r)), new TitleCandidate(1001, 0.5f, false));
        }

        using var serving = node.Session();
        var (outcome, completed, answers) = RunBinary(serving, writer.WrittenSpan.ToArray(), node);

        Assert.Equal(BatchOutcome.Done, outcome);
        Assert.Equal(40, completed);
        Assert.Equal(40, serving.ProfilesReadAhead);
        for (var r = 1; r <= 40; r++)
        {
            Assert.Equal([DiskMember(r) % 2 == 0 ? FallbackReason.None : FallbackReason.NoProfile], answers[r - 1].Reasons);
        }

        static ulong DiskMember(int r) => r % 4 == 0 ? (2UL * (ulong)r) + 1 : 2UL * (ulong)r;
    }

    [Fact]
    public void Binary_BatchesOfSelects_AllocateNothingPerRequest()
    {
        using var node = TestNode.Start(o => o.LogImpressions = false);
        for (ulong m = 1; m <= 64; m += 2)
        {
            node.StoreProfile(m);
        }

        var writer = new ArrayBufferWriter<byte>();
        for (ulong r = 1; r <= 64; r++)
        {
            FrameWriter.WriteSelect(writer, r, Member(r), new TitleCandidate(1001 + (uint)(r % 12), 0.5f, false));
        }

        var frames = writer.WrittenMemory;
        using var serving = node.Session();
        var output = new Pipe();
        var session = new BinarySession(serving, output.Writer, node.Node.Options.ToProtocolOptions(), node.Node.Metrics, maxInFlight: 4096);
        long Batches(int count)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var b = 0; b < count; b++)
            {
                var buffer = new ReadOnlySequence<byte>(frames);
                session.Process(ref buffer, Now(), out _);
                output.Writer.FlushAsync().GetAwaiter().GetResult(); // completes at once: nothing waits on the reader
                output.Reader.TryRead(out var read);
                output.Reader.AdvanceTo(read.Buffer.End);
            }

            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Batches(50);
        var windows = new[] { Batches(100), Batches(100), Batches(100) };

        // 6,400 requests per window: an object per request would be ≥ 150 KB; a one-off of FASTER's deferred epoch work
        // may land in one window (the impression log commits on its own timer).
        Assert.True(windows.Count(w => w == 0) >= 2, $"allocated {string.Join(", ", windows)} bytes in three windows of 100 batches of 64 SELECTs");
        Assert.Equal(350 * 64, serving.ProfilesReadAhead);
    }

    private static Batch Now(long arrival = 0)
    {
        var now = Stopwatch.GetTimestamp();
        return new Batch(now, arrival == 0 ? now : arrival);
    }

    // Requests 1-15 as frames: SELECTs for members 1-12 (member m asks for title 1001 + m % 12; 4 and 9 send genres),
    // with after member 5 a SELECT_PAGE for member 5 (request 6), after member 8 a REWARD (request 10, an unverified
    // tag: answered at once) and after member 10 a PING (request 13).
    private static byte[] BinaryBatch(int members)
    {
        var writer = new ArrayBufferWriter<byte>();
        ulong id = 0;
        var titles = PageTitles.Select(t => new TitleCandidate(t, 0.5f, false)).ToArray();
        for (ulong m = 1; m <= (ulong)members; m++)
        {
            var context = Member(m);
            if (m is 4 or 9)
            {
                context.SetGenres([0.5f, 0.25f, 0f, 0.25f]);
            }

            FrameWriter.WriteSelect(writer, ++id, context, new TitleCandidate(1001 + (uint)(m % 12), 0.5f, false));
            switch (m)
            {
                case 5:
                    FrameWriter.WriteSelectPage(writer, ++id, Member(5), titles);
                    break;
                case 8:
                    FrameWriter.WriteReward(writer, ++id, new RewardRequest(12345, true, 3f, 0.5f));
                    break;
                case 10:
                    FrameWriter.WritePing(writer, ++id, 77);
                    break;
            }
        }

        return writer.WrittenSpan.ToArray();
    }

    // The answers to BinaryBatch(12): in request order; odd members are stored, 4 and 9 sent genres, the rest have none.
    private static void AssertAnswers(List<Answer> answers)
    {
        Assert.Equal(Enumerable.Range(1, 15).Select(i => (ulong)i), answers.Select(a => a.RequestId));
        Assert.Equal(Opcode.SelectPageResult, answers[5].Opcode);
        Assert.Equal([FallbackReason.None, FallbackReason.None, FallbackReason.None], answers[5].Reasons);
        Assert.Equal(Opcode.RewardResult, answers[9].Opcode);
        Assert.Equal(Opcode.Pong, answers[12].Opcode);
        var selects = answers.Where(a => a.Opcode == Opcode.SelectResult).ToList();
        Assert.Equal(12, selects.Count);
        foreach (var answer in selects)
        {
            var member = answer.TitleId == 1001 ? 12 : answer.TitleId - 1001;
            Assert.Equal([member % 2 == 1 || member is 4 or 9 ? FallbackReason.None : FallbackReason.NoProfile], answer.Reasons);
        }
    }

    private static IEnumerable<byte[]> Split(byte[] frames)
    {
        var buffer = new ReadOnlySequence<byte>(frames);
        var options = new ProtocolOptions();
        while (FrameReader.TryReadFrame(ref buffer, options, out var frame, out _))
        {
            yield return frames.AsSpan((int)(frames.Length - buffer.Length - frame.Header.Length), (int)frame.Header.Length).ToArray();
        }
    }

    private (BatchOutcome Outcome, int Completed, List<Answer> Answers) RunBinary(ServingSession serving, byte[] frames, TestNode? node = null, long arrival = 0)
    {
        node ??= _node;
        var output = new Pipe();
        var session = new BinarySession(serving, output.Writer, node.Node.Options.ToProtocolOptions(), node.Node.Metrics, node.Node.Options.MaxInFlightPerConnection);
        var buffer = new ReadOnlySequence<byte>(frames);
        var outcome = session.Process(ref buffer, Now(arrival), out var completed);
        return (outcome, completed, Drain(output));
    }

    private static List<Answer> Drain(Pipe output)
    {
        output.Writer.FlushAsync().GetAwaiter().GetResult();
        var answers = new List<Answer>();
        if (!output.Reader.TryRead(out var read))
        {
            return answers;
        }

        var buffer = read.Buffer;
        var options = new ProtocolOptions();
        var results = new SelectResult[64];
        while (FrameReader.TryReadFrame(ref buffer, options, out var frame, out _))
        {
            FallbackReason[] reasons = [];
            uint title = 0;
            if (frame.Opcode == Opcode.SelectResult)
            {
                Assert.Equal(ErrorCode.None, PayloadReader.ReadSelectResult(frame.Payload, out var result));
                reasons = [result.Reason];
                title = result.TitleId;
            }
            else if (frame.Opcode == Opcode.SelectPageResult)
            {
                Assert.Equal(ErrorCode.None, PayloadReader.ReadSelectPageResult(frame.Payload, results, out var count));
                reasons = [.. results.Take(count).Select(r => r.Reason)];
            }

            answers.Add(new Answer(frame.RequestId, frame.Opcode, reasons, title));
        }

        output.Reader.AdvanceTo(read.Buffer.End);
        return answers;
    }

    private (BatchOutcome Outcome, int Completed, string Text) RunResp(ServingSession serving, byte[] input)
    {
        var output = new Pipe();
        var options = _node.Node.Options;
        var info = new RespServerInfo(_node.Node.Metrics, _node.Node.Stores, _node.Node.Rollout, _node.Node.RespLimit, _node.Node.BinaryLimit, 0, options.NodeId, options.IdleTimeoutSeconds);
        var session = new RespSession(serving, output.Writer, _node.Node.Metrics, options.MaxTitlesPerPage, options.RespMaxCommandBytes, options.MaxInFlightPerConnection, info, clientId: 1);
        var buffer = new ReadOnlySequence<byte>(input);
        var outcome = session.Process(ref buffer, Now(), out var completed);
        output.Writer.FlushAsync().GetAwaiter().GetResult();
        Assert.True(output.Reader.TryRead(out var read));
        var text = Encoding.ASCII.GetString(read.Buffer.ToArray());
        output.Reader.AdvanceTo(read.Buffer.End);
        return (outcome, completed, text);
    }

    private static byte[] Resp(params string[] args)
    {
        var text = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var arg in args)
        {
            text.Append('$').Append(arg.Length).Append("\r\n").Append(arg).Append("\r\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }

    // The reason (4th element) of every ART.SELECT ... WITHMETA answer: "*5\r\n:image\r\n$n\r\nevent\r\n$n\r\np\r\n:reason\r\n".
    private static List<long> Reasons(string text)
    {
        var lines = text.Split("\r\n");
        var reasons = new List<long>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i] == "*5")
            {
                reasons.Add(long.Parse(lines[i + 6].AsSpan(1), System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return reasons;
    }

    private readonly record struct Answer(ulong RequestId, Opcode Opcode, FallbackReason[] Reasons, uint TitleId);
}
