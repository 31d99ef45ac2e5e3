using System.Buffers;
using MessagePack;
using static EdgeSelector.Protocol.Tests.TestFrames;

namespace EdgeSelector.Protocol.Tests;

public class PayloadErrorTests
{
    private static RecordingHandler DispatchRaw(Opcode opcode, byte[] payload, ProtocolOptions? options = null) =>
        RoundTripTests.Dispatch(TestFrames.RawFrame(opcode, 7, payload), options);

    // A compact, hand-written context: [member, country, language, device, hour, dow] plus optional extras.
    private static void Context(ref MessagePackWriter w, int hour = 10, int dow = 3, int extra = 0)
    {
        w.WriteArrayHeader(6 + extra);
        w.Write(5UL);
        w.Write((ushort)0);
        w.Write((ushort)0);
        w.Write((byte)1);
        w.Write(hour);
        w.Write(dow);
    }

    private static void Title(ref MessagePackWriter w)
    {
        w.WriteArrayHeader(3);
        w.Write(9U);
        w.Write(0.5);  // float64: readers accept any float width.
        w.Write(false);
    }

    [Theory]
    [InlineData((byte)0x00)]
    [InlineData((byte)0x10)]
    [InlineData((byte)0x81)] // A response opcode sent to the server.
    [InlineData((byte)0xFF)]
    public void Dispatch_UnknownOpcode_UnknownOpcodeErrorWithRequestId(byte opcode)
    {
        RecordingHandler handler = DispatchRaw((Opcode)opcode, [0x90]);

        Assert.Equal("error", handler.Last);
        Assert.Equal(ErrorCode.UnknownOpcode, handler.Error);
        Assert.Equal(7UL, handler.RequestId);
        Assert.False(ErrorCodes.IsFatal(handler.Error));
    }

    [Fact]
    public void Dispatch_EveryTruncationOfEveryRequestPayload_MalformedPayload()
    {
        RequestContext context = TestFrames.Context();
        byte[][] frames =
        [
            TestFrames.Build(o => FrameWriter.WriteSelect(o, 1, in context, in TestFrames.Title)),
            TestFrames.Build(o => FrameWriter.WriteSelectPage(o, 1, in context, TestFrames.Titles(3))),
            TestFrames.Build(o => FrameWriter.WriteReward(o, 1, in TestFrames.Reward)),
            TestFrames.Build(o => FrameWriter.WritePing(o, 1, 3)),
        ];

        foreach (byte[] frame in frames)
        {
            var opcode = (Opcode)frame[5];
            byte[] payload = TestFrames.Payload(frame);
            for (int length = 0; length < payload.Length; length++)
            {
                RecordingHandler handler = DispatchRaw(opcode, payload[..length]);

                Assert.True(handler.Last == "error", $"{opcode} truncated to {length}");
                Assert.Equal(ErrorCode.MalformedPayload, handler.Error);
            }
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x80 })]                   // A map, not an array.
    [InlineData(new byte[] { 0x05 })]                   // An integer.
    [InlineData(new byte[] { 0xc1 })]                   // The one byte MessagePack never uses.
    [InlineData(new byte[] { 0x92, 0xa1, 0x78, 0x90 })] // A string where the context array belongs.
    [InlineData(new byte[] { 0x91, 0x96 })]             // Too few elements, truncated.
    [InlineData(new byte[] { 0xdd, 0xff, 0xff, 0xff, 0xff })] // Array32 claiming 4 billion elements.
    public void Dispatch_SelectWithGarbagePayload_MalformedPayload(byte[] payload)
    {
        RecordingHandler handler = DispatchRaw(Opcode.Select, payload);

        Assert.Equal(ErrorCode.MalformedPayload, handler.Error);
    }

    [Fact]
    public void Dispatch_NegativeMemberId_MalformedPayload()
    {
        byte[] payload = Msgpack((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            w.WriteArrayHeader(6);
            w.Write(-5L);
            w.Write(0); w.Write(0); w.Write(0); w.Write(0); w.Write(0);
            Title(ref w);
        });

        Assert.Equal(ErrorCode.MalformedPayload, DispatchRaw(Opcode.Select, payload).Error);
    }

    [Fact]
    public void Dispatch_BytesAfterTopLevelArray_MalformedPayload()
    {
        byte[] frame = TestFrames.Build(o => FrameWriter.WritePing(o, 1, 3));

        Assert.Equal(ErrorCode.MalformedPayload, DispatchRaw(Opcode.Ping, [.. TestFrames.Payload(frame), 0xc0]).Error);
    }

    [Fact]
    public void Dispatch_CompactEncodingAndOmittedOptionalFields_Accepted()
    {
        byte[] payload = Msgpack((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            Context(ref w);
            Title(ref w);
        });

        RecordingHandler handler = DispatchRaw(Opcode.Select, payload);

        Assert.Equal("select", handler.Last);
        Assert.Equal(5UL, handler.Context.MemberId);
        Assert.Equal(DeviceClass.Tv, handler.Context.Device);
        Assert.Equal(0, handler.Context.GenreCount);
        Assert.Equal(0, handler.Context.TimestampUnixMs);
        Assert.Equal(new TitleCandidate(9, 0.5f, false), handler.Title);
    }

    [Fact]
    public void Dispatch_ExtraTrailingElementsEverywhere_IgnoredForForwardCompatibility()
    {
        byte[] payload = Msgpack((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(3);
            Context(ref w, extra: 4);
            w.WriteNil();            // genres
            w.Write(1234L);          // timestamp
            w.Write("future field"); // unknown
            w.WriteMapHeader(1); w.Write(1); w.WriteArrayHeader(2); w.Write(1); w.Write(2);
            w.WriteArrayHeader(4);
            w.Write(9U); w.Write(0.5f); w.Write(true); w.WriteArrayHeader(1); w.WriteNil();
            w.Write(3.14);
        });

        RecordingHandler handler = DispatchRaw(Opcode.Select, payload);

        Assert.Equal("select", handler.Last);
        Assert.Equal(1234, handler.Context.TimestampUnixMs);
        Assert.Equal(new TitleCandidate(9, 0.5f, true), handler.Title);
    }

    [Fact]
    public void Dispatch_DeeplyNestedExtraElement_SkippedWithoutStackOverflow()
    {
        const int depth = 60_000;
        byte[] ping = [0x92, 0x01, .. Enumerable.Repeat((byte)0x91, depth), 0xc0];

        RecordingHandler handler = DispatchRaw(Opcode.Ping, ping, new ProtocolOptions { MaxFrameSize = 1 << 20 });

        Assert.Equal("ping", handler.Last);
        Assert.Equal(1UL, handler.Nonce);
    }

    [Fact]
    public void Dispatch_PageOverMaxTitles_TooManyTitlesAndConnectionKept()
    {
        var options = new ProtocolOptions { MaxTitlesPerPage = 8 };
        RequestContext context = TestFrames.Context();
        byte[] ok = TestFrames.Build(o => FrameWriter.WriteSelectPage(o, 1, in context, TestFrames.Titles(8)));
        byte[] tooMany = TestFrames.Build(o => FrameWriter.WriteSelectPage(o, 1, in context, TestFrames.Titles(9)));

        Assert.Equal("page", RoundTripTests.Dispatch(ok, options).Last);
        RecordingHandler handler = RoundTripTests.Dispatch(tooMany, options);
        Assert.Equal(ErrorCode.TooManyTitles, handler.Error);
        Assert.False(ErrorCodes.IsFatal(handler.Error));
    }

    [Fact]
    public void ReadSelectPage_ScratchSmallerThanMaxTitles_ThrowsArgumentException()
    {
        byte[] frame = TestFrames.Build(o => FrameWriter.WriteSelectPage(o, 1, TestFrames.Context(), TestFrames.Titles(1)));
        var payload = new ReadOnlySequence<byte>(TestFrames.Payload(frame));

        Assert.Throws<ArgumentException>(() =>
            PayloadReader.ReadSelectPage(payload, ProtocolOptions.Default, out _, new TitleCandidate[10], out _));
    }

    [Theory]
    [InlineData(24, 0)]
    [InlineData(0, 7)]
    [InlineData(255, 255)]
    public void Dispatch_HourOrDayOutOfRange_InvalidField(int hour, int dow)
    {
        byte[] payload = Msgpack((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            Context(ref w, hour, dow);
            Title(ref w);
        });

        Assert.Equal(ErrorCode.InvalidField, DispatchRaw(Opcode.Select, payload).Error);
    }

    [Fact]
    public void Dispatch_SeventeenGenres_InvalidField()
    {
        byte[] payload = Msgpack((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            Context(ref w, extra: 1);
            w.WriteArrayHeader(17);
            for (int i = 0; i < 17; i++)
            {
                w.Write(0.1f);
            }

            Title(ref w);
        });

        Assert.Equal(ErrorCode.InvalidField, DispatchRaw(Opcode.Select, payload).Error);
    }

    [Fact]
    public void Dispatch_NegativeRewardTimestamp_InvalidField()
    {
        RewardRequest reward = TestFrames.Reward with { TimestampUnixMs = -1 };
        byte[] frame = TestFrames.Build(o => FrameWriter.WriteReward(o, 1, in reward));

        Assert.Equal(ErrorCode.InvalidField, RoundTripTests.Dispatch(frame).Error);
    }

    [Theory]
    [InlineData(-3f, 0.5f)]
    [InlineData(float.NaN, 0.5f)]
    [InlineData(float.PositiveInfinity, 0.5f)]
    [InlineData(10f, 1.5f)]
    [InlineData(10f, -0.01f)]
    [InlineData(10f, float.NaN)]
    public void Dispatch_RewardValuesOutOfRange_InvalidField(float minutes, float fraction)
    {
        RewardRequest reward = TestFrames.Reward with { MinutesWatched = minutes, FractionCompleted = fraction };
        byte[] frame = TestFrames.Build(o => FrameWriter.WriteReward(o, 1, in reward));

        Assert.Equal(ErrorCode.InvalidField, RoundTripTests.Dispatch(frame).Error);
    }

    [Theory]
    [InlineData(0f, 0f)]
    [InlineData(0f, 1f)]
    [InlineData(240f, 0.999f)]
    public void Dispatch_RewardValuesAtTheirBounds_Read(float minutes, float fraction)
    {
        RewardRequest reward = TestFrames.Reward with { MinutesWatched = minutes, FractionCompleted = fraction };
        byte[] frame = TestFrames.Build(o => FrameWriter.WriteReward(o, 1, in reward));

        Assert.Equal(ErrorCode.None, RoundTripTests.Dispatch(frame).Error);
    }

    [Theory]
    [InlineData("us", "en", "US", "EN")]
    [InlineData("GB", "fr", "GB", "FR")]
    public void Dispatch_LocaleAsTwoLetterString_PackedLikeCountryCode(string country, string language, string expectedCountry, string expectedLanguage)
    {
        byte[] payload = Msgpack((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            w.WriteArrayHeader(6);
            w.Write(5UL); w.Write(country); w.Write(language); w.Write(1); w.Write(1); w.Write(1);
            Title(ref w);
        });

        RecordingHandler handler = DispatchRaw(Opcode.Select, payload);

        Assert.Equal(CountryCode.Pack(expectedCountry), handler.Context.Country);
        Assert.Equal(CountryCode.Pack(expectedLanguage), handler.Context.Language);
    }

    [Theory]
    [InlineData("USA")]
    [InlineData("U")]
    [InlineData("1A")]
    public void Dispatch_LocaleStringNotTwoLetters_InvalidField(string country)
    {
        byte[] payload = Msgpack((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            w.WriteArrayHeader(6);
            w.Write(5UL); w.Write(country); w.Write(0); w.Write(1); w.Write(1); w.Write(1);
            Title(ref w);
        });

        Assert.Equal(ErrorCode.InvalidField, DispatchRaw(Opcode.Select, payload).Error);
    }

    [Theory]
    [InlineData(1)]                        // Not letters at all.
    [InlineData(0x5573)]                   // "Us": the packed form is upper-case.
    [InlineData(0x3132)]                   // "12".
    [InlineData(0x5500)]                   // One letter.
    [InlineData(0xFFFF)]
    public void Dispatch_PackedLocaleNotTwoUpperCaseLetters_InvalidField(int packed)
    {
        foreach (var field in new[] { 1, 2 })
        {
            byte[] payload = Msgpack((ref MessagePackWriter w) =>
            {
                w.WriteArrayHeader(2);
                w.WriteArrayHeader(6);
                w.Write(5UL);
                w.Write(field == 1 ? (ushort)packed : (ushort)0);
                w.Write(field == 2 ? (ushort)packed : (ushort)0);
                w.Write(1); w.Write(1); w.Write(1);
                Title(ref w);
            });

            Assert.Equal(ErrorCode.InvalidField, DispatchRaw(Opcode.Select, payload).Error);
        }
    }

    [Theory]
    [InlineData("US", "EN")]
    [InlineData("", "")]
    public void Dispatch_PackedLocaleValidOrUnknown_Accepted(string country, string language)
    {
        var context = TestFrames.Context() with { Country = CountryCode.Pack(country), Language = CountryCode.Pack(language) };
        byte[] frame = TestFrames.Build(o => FrameWriter.WriteSelect(o, 1, in context, in TestFrames.Title));

        RecordingHandler handler = RoundTripTests.Dispatch(frame);

        Assert.Equal("select", handler.Last);
        Assert.Equal(context.Country, handler.Context.Country);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    [InlineData(-0.001f)]
    [InlineData(1.001f)]
    [InlineData(-1e30f)]
    public void Dispatch_GenreAffinityNotInZeroOne_InvalidField(float affinity)
    {
        foreach (var position in new[] { 0, 4 })
        {
            var context = TestFrames.Context();
            var genres = new float[5];
            genres[position] = affinity;
            context.SetGenres(genres);
            byte[] frame = TestFrames.Build(o => FrameWriter.WriteSelectPage(o, 1, in context, TestFrames.Titles(2)));

            Assert.Equal(ErrorCode.InvalidField, RoundTripTests.Dispatch(frame).Error);
        }
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(1f)]
    [InlineData(0.5f)]
    public void Dispatch_GenreAffinityInZeroOne_Accepted(float affinity)
    {
        var context = TestFrames.Context();
        context.SetGenres([affinity, 1f - affinity]);
        byte[] frame = TestFrames.Build(o => FrameWriter.WriteSelect(o, 1, in context, in TestFrames.Title));

        RecordingHandler handler = RoundTripTests.Dispatch(frame);

        Assert.Equal("select", handler.Last);
        Assert.Equal([affinity, 1f - affinity], handler.Context.GenreSpan.ToArray());
    }

    [Fact]
    public void ReadError_GarbagePayload_MalformedPayload()
    {
        var payload = new ReadOnlySequence<byte>([0x92, 0x01]);

        Assert.Equal(ErrorCode.MalformedPayload, PayloadReader.ReadError(payload, out _, out _));
    }
}
