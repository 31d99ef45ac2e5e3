using System.Buffers;
using CsCheck;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Primitives;
using EdgeSelector.Protocol;

namespace EdgeSelector.Chaos.Tests.Fuzz;

/// <summary>
/// The binary protocol's parsers (src/EdgeSelector.Protocol: FrameReader, RequestDispatcher, PayloadReader), both
/// sides: any bytes give a frame, "incomplete" or a documented <see cref="ErrorCode"/>, never an exception, always
/// progress; every well-formed request and response round-trips through any split into segments.
/// </summary>
public sealed class ProtocolFuzzTests
{
    private static readonly ProtocolOptions Options = new() { MaxTitlesPerPage = 64 };

    private static readonly Gen<ushort> Locale = Gen.Frequency(
        (1, Gen.Const((ushort)0)),
        (4, Gen.Select(Gen.Char['A', 'Z'], Gen.Char['A', 'Z'], (a, b) => (ushort)((a << 8) | b))));

    private static readonly Gen<RequestContext> Context = Gen.Select(
        Gen.ULong, Locale, Locale, Gen.Byte[0, 5], Gen.Byte[0, 23], Gen.Byte[0, 6], Gen.Float[0f, 1f].Array[0, 16], Gen.Long[0, long.MaxValue],
        (member, country, language, device, hour, day, genres, timestamp) =>
        {
            var context = new RequestContext { MemberId = member, Country = country, Language = language, Device = (DeviceClass)device, HourOfDay = hour, DayOfWeek = day, TimestampUnixMs = timestamp };
            context.SetGenres(genres);
            return context;
        });

    private static readonly Gen<TitleCandidate> Title = Gen.Select(Gen.UInt, Gen.Float, Gen.Bool, (id, score, interacted) => new TitleCandidate(id, score, interacted));

    // Well-formed: minutes finite and >= 0, the fraction in [0, 1] (docs/protocol.md, REWARD; anything else is InvalidField).
    private static readonly Gen<RewardRequest> Reward = Gen.Select(Gen.ULong, Gen.Bool, Gen.Float[0f, float.MaxValue], Gen.Float[0f, 1f], Gen.Long[0, long.MaxValue], Gen.ULong,
        (id, played, minutes, fraction, timestamp, tag) => new RewardRequest(id, played, minutes, fraction, timestamp, tag));

    private static readonly Gen<SelectResult> Result = Gen.Select(Gen.UInt, Gen.UInt, Gen.ULong, Gen.Float, Gen.ULong, Gen.Byte[0, 7], Gen.ULong,
        (title, image, eventId, propensity, version, reason, tag) => new SelectResult(title, image, eventId, propensity, version, (FallbackReason)reason, tag));

    /// <summary>One well-formed frame of any opcode, and what a reader must find in it.</summary>
    private static readonly Gen<(byte[] Frame, Expected Expected)> WellFormed = Gen.OneOf(
        Gen.Select(Gen.ULong, Context, Title, (id, c, t) => (Build(w => FrameWriter.WriteSelect(w, id, in c, in t)), new Expected(id, Opcode.Select, c, [t]))),
        Gen.Select(Gen.ULong, Context, Title.Array[0, 64], (id, c, t) => (Build(w => FrameWriter.WriteSelectPage(w, id, in c, t)), new Expected(id, Opcode.SelectPage, c, t))),
        Gen.Select(Gen.ULong, Reward, (id, r) => (Build(w => FrameWriter.WriteReward(w, id, in r)), new Expected(id, Opcode.Reward, Reward: r))),
        Gen.Select(Gen.ULong, Gen.ULong, (id, nonce) => (Build(w => FrameWriter.WritePing(w, id, nonce)), new Expected(id, Opcode.Ping, Nonce: nonce))),
        Gen.Select(Gen.ULong, Result, (id, r) => (Build(w => FrameWriter.WriteSelectResult(w, id, in r)), new Expected(id, Opcode.SelectResult, Results: [r]))),
        Gen.Select(Gen.ULong, Result.Array[0, 64], (id, r) => (Build(w => FrameWriter.WriteSelectPageResult(w, id, r)), new Expected(id, Opcode.SelectPageResult, Results: r))),
        Gen.Select(Gen.ULong, Gen.Byte[0, 3], (id, s) => (Build(w => FrameWriter.WriteRewardResult(w, id, (RewardStatus)s)), new Expected(id, Opcode.RewardResult, Status: (RewardStatus)s))),
        Gen.Select(Gen.ULong, Gen.Int[0, 40], (id, e) => (Build(w => FrameWriter.WriteError(w, id, (ErrorCode)e)), new Expected(id, Opcode.Error, Error: (ErrorCode)e))));

    private static readonly Gen<byte[]> Stream = Gen.OneOf(
        Gen.Byte.Array[0, 300],
        Fuzz.Mutations(WellFormed.Select(f => f.Frame)),
        Fuzz.Mutations(WellFormed.Select(f => f.Frame).Array[1, 4].Select(frames => frames.SelectMany(f => f).ToArray())));

    [Fact]
    public Task AnyBytes_ReadDispatchAndResponseReaders_NeverThrow_AlwaysProgress() =>
        Fuzz.RunAsync(Gen.Select(Stream, Gen.Int[0, 1000], (bytes, split) => (bytes, split)), input => ReadAll(input.bytes, input.split), print: i => Fuzz.Hex(i.bytes));

    [Fact]
    public Task WellFormedFrames_RoundTrip_ThroughAnySplit() =>
        Fuzz.RunAsync(Gen.Select(WellFormed, Gen.Int[0, 100_000], Gen.Int[0, 100_000], (f, a, b) => (f.Frame, f.Expected, a, b)), input =>
        {
            var (frame, expected, a, b) = input;
            var sequence = Segments.Of(frame, a % (frame.Length + 1), b % (frame.Length + 1));
            Assert.True(FrameReader.TryReadFrame(ref sequence, Options, out var read, out var error), $"well-formed frame not read: {error}");
            Assert.True(sequence.IsEmpty, "the reader did not consume exactly the frame");
            Assert.Equal(expected.RequestId, read.RequestId);
            Assert.Equal(expected.Opcode, read.Opcode);
            expected.Check(read);

            // Every proper prefix is "incomplete", consuming nothing.
            var prefix = new ReadOnlySequence<byte>(frame, 0, a % frame.Length);
            Assert.False(FrameReader.TryReadFrame(ref prefix, Options, out _, out var incomplete));
            Assert.Equal(ErrorCode.None, incomplete);
            Assert.Equal(a % frame.Length, prefix.Length);
        }, print: i => Fuzz.Hex(i.Frame));

    /// <summary>Reads frames until the input runs out or a fatal error; decodes each with every reader of both sides.</summary>
    internal static void ReadAll(byte[] bytes, int split)
    {
        var buffer = Segments.Of(bytes, split % (bytes.Length + 1), (split * 7) % (bytes.Length + 1));
        var scratch = new TitleCandidate[Options.MaxTitlesPerPage];
        var results = new SelectResult[Options.MaxTitlesPerPage];
        var handler = new Recorder();
        var frames = 0;
        while (true)
        {
            var before = buffer.Length;
            if (!FrameReader.TryReadFrame(ref buffer, Options, out var frame, out var error))
            {
                Assert.Equal(before, buffer.Length); // nothing consumed, incomplete or fatal
                Assert.True(error is ErrorCode.None or ErrorCode.FrameTooLarge or ErrorCode.UnsupportedVersion or ErrorCode.MalformedHeader, $"fatal error {error}");
                return;
            }

            Assert.True(before - buffer.Length >= FrameHeader.Size, "a frame consumed less than its header");
            Assert.True(++frames <= (bytes.Length / FrameHeader.Size) + 1);
            handler.Calls = 0;
            RequestDispatcher.Dispatch(in frame, Options, scratch, ref handler);
            Assert.Equal(1, handler.Calls);
            Documented(PayloadReader.ReadSelectResult(frame.Payload, out _));
            Documented(PayloadReader.ReadSelectPageResult(frame.Payload, results, out var count));
            Assert.InRange(count, 0, results.Length);
            Documented(PayloadReader.ReadRewardResult(frame.Payload, out _));
            Documented(PayloadReader.ReadError(frame.Payload, out _, out _));
        }
    }

    private static void Documented(ErrorCode error) => Assert.True(Enum.IsDefined(error), $"undocumented error code {(int)error}");

    private static byte[] Build(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    internal sealed record Expected(
        ulong RequestId,
        Opcode Opcode,
        RequestContext Context = default,
        TitleCandidate[]? Titles = null,
        RewardRequest Reward = default,
        ulong Nonce = 0,
        SelectResult[]? Results = null,
        RewardStatus Status = default,
        ErrorCode Error = default)
    {
        public void Check(in Frame frame)
        {
            switch (Opcode)
            {
                case Opcode.Select:
                case Opcode.SelectPage:
                case Opcode.Reward:
                case Opcode.Ping:
                    var handler = new Recorder();
                    RequestDispatcher.Dispatch(in frame, Options, new TitleCandidate[Options.MaxTitlesPerPage], ref handler);
                    Assert.Equal(ErrorCode.None, handler.Error);
                    if (Opcode is Opcode.Select or Opcode.SelectPage)
                    {
                        SameContext(Context, handler.Context);
                        Assert.Equal(Titles!.Select(Bits), handler.Titles.Select(Bits));
                    }
                    else if (Opcode == Opcode.Reward)
                    {
                        Assert.Equal(Bits(Reward), Bits(handler.Reward));
                    }
                    else
                    {
                        Assert.Equal(Nonce, handler.Nonce);
                    }

                    break;
                case Opcode.SelectResult:
                    Assert.Equal(ErrorCode.None, PayloadReader.ReadSelectResult(frame.Payload, out var one));
                    Assert.Equal(Bits(Results![0]), Bits(one));
                    break;
                case Opcode.SelectPageResult:
                    var page = new SelectResult[64];
                    Assert.Equal(ErrorCode.None, PayloadReader.ReadSelectPageResult(frame.Payload, page, out var n));
                    Assert.Equal(Results!.Select(Bits), page[..n].Select(Bits));
                    break;
                case Opcode.RewardResult:
                    Assert.Equal(ErrorCode.None, PayloadReader.ReadRewardResult(frame.Payload, out var status));
                    Assert.Equal(Status, status);
                    break;
                default:
                    Assert.Equal(ErrorCode.None, PayloadReader.ReadError(frame.Payload, out var code, out _));
                    Assert.Equal(Error, code);
                    break;
            }
        }

        private static void SameContext(RequestContext expected, RequestContext actual)
        {
            Assert.Equal(
                (expected.MemberId, expected.Country, expected.Language, expected.Device, expected.HourOfDay, expected.DayOfWeek, expected.TimestampUnixMs, expected.GenreCount),
                (actual.MemberId, actual.Country, actual.Language, actual.Device, actual.HourOfDay, actual.DayOfWeek, actual.TimestampUnixMs, actual.GenreCount));
            Assert.Equal(expected.GenreSpan.ToArray(), actual.GenreSpan.ToArray());
        }

        // Floats compared by their bits: NaN round-trips as the same NaN.
        private static (uint, int, bool) Bits(TitleCandidate t) => (t.TitleId, BitConverter.SingleToInt32Bits(t.Score), t.InteractedBefore);

        private static (ulong, bool, int, int, long, ulong) Bits(RewardRequest r) =>
            (r.EventId, r.PlayStarted, BitConverter.SingleToInt32Bits(r.MinutesWatched), BitConverter.SingleToInt32Bits(r.FractionCompleted), r.TimestampUnixMs, r.EventTag);

        private static (uint, uint, ulong, int, ulong, FallbackReason, ulong) Bits(SelectResult r) =>
            (r.TitleId, r.ImageId, r.EventId, BitConverter.SingleToInt32Bits(r.Propensity), r.ModelVersion, r.Reason, r.EventTag);
    }

    private sealed class Recorder : IRequestHandler
    {
        public int Calls;
        public ErrorCode Error;
        public RequestContext Context;
        public TitleCandidate[] Titles = [];
        public RewardRequest Reward;
        public ulong Nonce;

        public void OnSelect(ulong requestId, in RequestContext context, in TitleCandidate title) => (Calls, Context, Titles) = (Calls + 1, context, [title]);

        public void OnSelectPage(ulong requestId, in RequestContext context, ReadOnlySpan<TitleCandidate> titles) => (Calls, Context, Titles) = (Calls + 1, context, titles.ToArray());

        public void OnReward(ulong requestId, in RewardRequest reward) => (Calls, Reward) = (Calls + 1, reward);

        public void OnPing(ulong requestId, ulong nonce) => (Calls, Nonce) = (Calls + 1, nonce);

        public void OnRequestError(ulong requestId, ErrorCode error)
        {
            Calls++;
            Error = error;
            Assert.True(Enum.IsDefined(error) && error != ErrorCode.None, $"request error {(int)error}");
        }
    }
}

/// <summary>A byte array as a sequence of up to three segments, cut at the given offsets (Kestrel hands parsers such).</summary>
internal static class Segments
{
    public static ReadOnlySequence<byte> Of(byte[] bytes, int cutA, int cutB)
    {
        var (a, b) = (Math.Min(cutA, cutB), Math.Max(cutA, cutB));
        if (a == 0 && b == 0)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        return Sequences.Split(bytes, a, b);
    }
}
