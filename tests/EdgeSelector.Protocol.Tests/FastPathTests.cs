using System.Buffers;
using MessagePack;

namespace EdgeSelector.Protocol.Tests;

/// <summary>
/// The fixed-form fast paths give what the general code gives: SELECT_RESULT and SELECT_PAGE_RESULT frames are byte
/// for byte what MessagePackWriter wrote before (the reference below is that code), and SELECT / SELECT_PAGE payloads
/// read from one segment (the fast path) decode exactly as from several (MessagePackReader), valid, mutated or cut.
/// </summary>
public class FastPathTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void WriteSelectResult_RandomResults_MatchMessagePackWriter(int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < 500; i++)
        {
            var result = RandomResult(random);
            ulong id = NextUInt64(random);
            byte[] fast = TestFrames.Build(w => FrameWriter.WriteSelectResult(w, id, in result));
            Assert.Equal(ReferenceFrame(Opcode.SelectResult, id, [result], page: false), fast);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(40)]
    [InlineData(200)]
    public void WriteSelectPageResult_AnySize_MatchesMessagePackWriter(int count)
    {
        var random = new Random(count);
        var results = Enumerable.Range(0, count).Select(_ => RandomResult(random)).ToArray();
        byte[] expected = ReferenceFrame(Opcode.SelectPageResult, 77, results, page: true);
        Assert.Equal(expected, TestFrames.Build(w => FrameWriter.WriteSelectPageResult(w, 77, results)));

        // A writer that hands out exactly the size asked for: the results go out in many spans, same bytes.
        var tight = new TightWriter();
        FrameWriter.WriteSelectPageResult(tight, 77, results);
        Assert.Equal(expected, tight.Written.ToArray());
    }

    [Fact]
    public void ReadSelect_OurFrames_TakeTheFastPathWithTheSameResult()
    {
        var random = new Random(7);
        for (int i = 0; i < 300; i++)
        {
            var context = RandomContext(random);
            var title = new TitleCandidate((uint)random.Next(), (float)random.NextDouble(), random.Next(2) == 1);
            byte[] payload = TestFrames.Payload(TestFrames.Build(w => FrameWriter.WriteSelect(w, 1, in context, in title)));
            Assert.Equal(ErrorCode.None, PayloadReader.ReadSelect(new ReadOnlySequence<byte>(payload), out var read, out var readTitle));
            Assert.Equal(title, readTitle);
            AssertSameContext(context, read);
            AssertSelectAgrees(payload);
        }
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void ReadSelect_MutatedOrCutPayloads_FastAndGeneralAgree(int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < 2000; i++)
        {
            byte[] payload = Mutate(SelectPayload(random), random);
            AssertSelectAgrees(payload);
        }
    }

    [Theory]
    [InlineData(21)]
    [InlineData(22)]
    public void ReadSelectPage_MutatedOrCutPayloads_FastAndGeneralAgree(int seed)
    {
        var random = new Random(seed);
        var options = new ProtocolOptions { MaxTitlesPerPage = 40 };
        for (int i = 0; i < 1000; i++)
        {
            var context = RandomContext(random);
            var titles = TestFrames.Titles(random.Next(0, 45));
            byte[] payload = TestFrames.Payload(TestFrames.Build(w => FrameWriter.WriteSelectPage(w, 1, in context, titles)));
            if (i % 4 != 0)
            {
                payload = Mutate(payload, random);
            }

            AssertPageAgrees(payload, options);
        }
    }

    [Theory]
    [InlineData(31, false)]
    [InlineData(32, true)]
    public void ReadSelect_FixedLayoutEveryByteMutatedOrCut_FastAndGeneralAgree(int seed, bool page)
    {
        // FrameWriter's layout is read at fixed offsets (the context's six fields, each title): every byte of a frame
        // set to each interesting value and to its neighbours (a wrong marker, an invalid locale, hour 24, day 7, a
        // bad bool), and the payload cut at every length, must give the general reader's answer.
        var random = new Random(seed);
        var options = new ProtocolOptions { MaxTitlesPerPage = 40 };
        for (int n = 0; n < 6; n++)
        {
            var context = RandomContext(random);
            byte[] payload = page
                ? TestFrames.Payload(TestFrames.Build(w => FrameWriter.WriteSelectPage(w, 1, in context, TestFrames.Titles(3))))
                : SelectPayload(random);
            TestFrames.EachByteMutatedOrCut(payload, Interesting, bytes =>
            {
                if (page)
                {
                    AssertPageAgrees(bytes, options);
                }
                else
                {
                    AssertSelectAgrees(bytes);
                }
            });
        }
    }

    [Fact]
    public void ReadSelect_CompactAndSignedIntegerForms_MatchTheGeneralReader()
    {
        // Another writer's forms: positive fixints, int8..int64, array16 genres, a nil timestamp, string locales.
        foreach (var payload in new[]
        {
            Encode((ref MessagePackWriter w) => { w.WriteArrayHeader(2); WriteContext(ref w, compact: true); WriteTitle(ref w); }),
            Encode((ref MessagePackWriter w) => { w.WriteArrayHeader(2); WriteContext(ref w, compact: false, signed: true); WriteTitle(ref w); }),
            Encode((ref MessagePackWriter w) => { w.WriteArrayHeader(2); WriteContext(ref w, compact: true, stringLocale: true); WriteTitle(ref w); }),
            Encode((ref MessagePackWriter w) => { w.WriteArrayHeader(2); WriteContext(ref w, compact: true, negativeMember: true); WriteTitle(ref w); }),
            Encode((ref MessagePackWriter w) => { w.WriteArrayHeader(3); WriteContext(ref w, compact: true); WriteTitle(ref w); w.Write(1); }),
            Encode((ref MessagePackWriter w) => { w.WriteArrayHeader(2); WriteContext(ref w, compact: true); w.WriteArrayHeader(3); w.Write(5u); w.Write(0.5d); w.Write(true); }),
        })
        {
            AssertSelectAgrees(payload);
        }
    }

    private static void AssertSelectAgrees(byte[] payload)
    {
        var fast = PayloadReader.ReadSelect(new ReadOnlySequence<byte>(payload), out var fastContext, out var fastTitle);
        var slow = PayloadReader.ReadSelect(TestFrames.OneBytePerSegment(payload), out var slowContext, out var slowTitle);
        Assert.Equal(slow, fast);
        Assert.Equal(slowTitle, fastTitle);
        AssertSameContext(slowContext, fastContext);
    }

    private static void AssertPageAgrees(byte[] payload, ProtocolOptions options)
    {
        var fastTitles = new TitleCandidate[40];
        var slowTitles = new TitleCandidate[40];
        var fast = PayloadReader.ReadSelectPage(new ReadOnlySequence<byte>(payload), options, out var fastContext, fastTitles, out int fastCount);
        var slow = PayloadReader.ReadSelectPage(TestFrames.OneBytePerSegment(payload), options, out var slowContext, slowTitles, out int slowCount);
        Assert.Equal(slow, fast);
        Assert.Equal(slowCount, fastCount);
        AssertSameContext(slowContext, fastContext);
        Assert.Equal(slowTitles.AsSpan(0, slowCount).ToArray(), fastTitles.AsSpan(0, fastCount).ToArray());
    }

    private static void AssertSameContext(RequestContext expected, RequestContext actual)
    {
        Assert.Equal(expected.MemberId, actual.MemberId);
        Assert.Equal(expected.Country, actual.Country);
        Assert.Equal(expected.Language, actual.Language);
        Assert.Equal(expected.Device, actual.Device);
        Assert.Equal(expected.HourOfDay, actual.HourOfDay);
        Assert.Equal(expected.DayOfWeek, actual.DayOfWeek);
        Assert.Equal(expected.GenreCount, actual.GenreCount);
        Assert.Equal(((ReadOnlySpan<float>)expected.Genres).ToArray(), ((ReadOnlySpan<float>)actual.Genres).ToArray());
        Assert.Equal(expected.TimestampUnixMs, actual.TimestampUnixMs);
    }

    private static byte[] SelectPayload(Random random)
    {
        var context = RandomContext(random);
        var title = new TitleCandidate((uint)random.Next(), (float)random.NextDouble(), random.Next(2) == 1);
        return TestFrames.Payload(TestFrames.Build(w => FrameWriter.WriteSelect(w, 1, in context, in title)));
    }

    // Flip a byte to an interesting value, cut the tail, or append a byte.
    private static byte[] Mutate(byte[] payload, Random random)
    {
        var bytes = payload.ToArray();
        switch (random.Next(4))
        {
            case 0:
                bytes[random.Next(bytes.Length)] = Interesting[random.Next(Interesting.Length)];
                return bytes;
            case 1:
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                return bytes;
            case 2:
                return bytes[..random.Next(bytes.Length)];
            default:
                return [.. bytes, (byte)random.Next(256)];
        }
    }

    private static readonly byte[] Interesting =
        [0x00, 0x05, 0x7f, 0x80, 0x90, 0x92, 0x96, 0x97, 0x98, 0x99, 0x9f, 0xa2, 0xc0, 0xc2, 0xc3, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xdc, 0xdd, 0xde, 0xff];

    private static RequestContext RandomContext(Random random)
    {
        var context = new RequestContext
        {
            MemberId = NextUInt64(random),
            Country = random.Next(3) == 0 ? (ushort)0 : CountryCode.Pack("FR"),
            Language = random.Next(3) == 0 ? (ushort)0 : CountryCode.Pack("fr"),
            Device = (DeviceClass)random.Next(6),
            HourOfDay = (byte)random.Next(24),
            DayOfWeek = (byte)random.Next(7),
            TimestampUnixMs = random.Next(2) == 0 ? 0 : 1_764_300_000_000 + random.Next(),
        };
        int genres = random.Next(3) == 0 ? 0 : random.Next(1, 17);
        context.SetGenres(Enumerable.Range(0, genres).Select(_ => (float)random.NextDouble()).ToArray());
        return context;
    }

    private static SelectResult RandomResult(Random random) => new(
        (uint)random.Next(),
        (uint)random.Next(),
        NextUInt64(random),
        (float)random.NextDouble(),
        NextUInt64(random),
        (FallbackReason)random.Next(0, 10),
        NextUInt64(random));

    private static ulong NextUInt64(Random random) => (ulong)random.NextInt64() ^ ((ulong)random.Next(2) << 63);

    // The frames as FrameWriter wrote them through MessagePackWriter before its fixed-form path.
    private static byte[] ReferenceFrame(Opcode opcode, ulong requestId, SelectResult[] results, bool page)
    {
        byte[] payload = Encode((ref MessagePackWriter w) =>
        {
            if (page)
            {
                w.WriteArrayHeader(results.Length);
            }

            foreach (var result in results)
            {
                w.WriteArrayHeader(7);
                w.WriteUInt32(result.TitleId);
                w.WriteUInt32(result.ImageId);
                w.WriteUInt64(result.EventId);
                w.Write(result.Propensity);
                w.WriteUInt64(result.ModelVersion);
                w.WriteUInt8((byte)result.Reason);
                w.WriteUInt64(result.EventTag);
            }
        });
        return TestFrames.RawFrame(opcode, requestId, payload);
    }

    private delegate void Writing(ref MessagePackWriter writer);

    private static byte[] Encode(Writing write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        write(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteContext(ref MessagePackWriter w, bool compact, bool signed = false, bool stringLocale = false, bool negativeMember = false)
    {
        w.WriteArrayHeader(8);
        if (negativeMember)
        {
            w.Write(-5L);
        }
        else if (signed)
        {
            w.WriteInt64(123456789);
        }
        else
        {
            w.Write(compact ? 42UL : 1UL << 40);
        }

        if (stringLocale)
        {
            w.Write("us");
            w.Write("EN");
        }
        else if (signed)
        {
            w.WriteInt16((short)CountryCode.Pack("DE"));
            w.WriteInt32(0);
        }
        else
        {
            w.Write(CountryCode.Pack("DE"));
            w.Write((ushort)0);
        }

        if (signed)
        {
            w.WriteInt8(2);
            w.WriteInt16(23);
            w.WriteInt32(6);
        }
        else
        {
            w.Write(2);
            w.Write(23);
            w.Write(6);
        }

        w.WriteArrayHeader(16);
        for (int g = 0; g < 16; g++)
        {
            w.Write(g / 16f);
        }

        if (compact)
        {
            w.WriteNil();
        }
        else
        {
            w.Write(1_764_300_000_000L);
        }
    }

    private static void WriteTitle(ref MessagePackWriter w)
    {
        w.WriteArrayHeader(3);
        w.Write(12345u);
        w.Write(0.25f);
        w.Write(false);
    }

    /// <summary>Hands out spans of exactly the size asked for.</summary>
    private sealed class TightWriter : IBufferWriter<byte>
    {
        private readonly ArrayBufferWriter<byte> _inner = new();
        private byte[] _span = [];

        public ReadOnlySpan<byte> Written => _inner.WrittenSpan;

        public void Advance(int count)
        {
            _inner.Write(_span.AsSpan(0, count));
            _span = [];
        }

        public Memory<byte> GetMemory(int sizeHint = 0) => _span = new byte[Math.Max(sizeHint, 1)];

        public Span<byte> GetSpan(int sizeHint = 0) => _span = new byte[Math.Max(sizeHint, 1)];
    }
}
