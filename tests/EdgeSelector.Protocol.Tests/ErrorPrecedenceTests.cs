using System.Buffers;
using MessagePack;
using static EdgeSelector.Protocol.Tests.TestFrames;

namespace EdgeSelector.Protocol.Tests;

/// <summary>
/// Which error a request gets when several apply (docs/protocol.md#which-error-wins): one test per adjacent pair of the
/// documented order, each request broken in both ways at once.
/// </summary>
public class ErrorPrecedenceTests
{
    private static readonly ProtocolOptions Options = new() { MaxFrameSize = 1024, MaxTitlesPerPage = 8 };

    // [member, country, language, device, hour, dow] (+ genres when given), hand-written and compact.
    private static void Context(ref MessagePackWriter w, long member = 5, ushort country = 0, int device = 1, int hour = 10, int genres = -1)
    {
        w.WriteArrayHeader(genres < 0 ? 6 : 7);
        w.Write(member);
        w.Write(country);
        w.Write((ushort)0);
        w.Write(device);
        w.Write(hour);
        w.Write(3);
        if (genres >= 0)
        {
            w.WriteArrayHeader(genres);
            w.Write(0.5f); // one affinity whatever the count: the list may be cut short
        }
    }

    private static void Title(ref MessagePackWriter w)
    {
        w.WriteArrayHeader(3);
        w.Write(9U);
        w.Write(0.5f);
        w.Write(false);
    }

    // A SELECT_PAGE payload whose title list declares `declared` titles and holds `present`, then `after` bytes.
    private static byte[] Page(int declared, int present, MsgpackWrite context, byte[]? after = null, bool array32 = false)
    {
        byte[] payload = Msgpack((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            context(ref w);
            if (array32)
            {
                w.WriteRaw(new byte[] { 0xdd, (byte)(declared >> 24), (byte)(declared >> 16), (byte)(declared >> 8), (byte)declared });
            }
            else
            {
                w.WriteArrayHeader(declared);
            }

            for (int i = 0; i < present; i++)
            {
                Title(ref w);
            }
        });
        return [.. payload, .. after ?? []];
    }

    private static ErrorCode FrameError(byte[] frame)
    {
        var buffer = new ReadOnlySequence<byte>(frame);
        Assert.False(FrameReader.TryReadFrame(ref buffer, Options, out _, out ErrorCode error));
        return error;
    }

    private static ErrorCode Dispatch(Opcode opcode, byte[] payload)
    {
        RecordingHandler handler = RoundTripTests.Dispatch(TestFrames.RawFrame(opcode, 7, payload), Options);
        Assert.Equal("error", handler.Last);
        return handler.Error;
    }

    private static byte[] Header(uint length, byte version, byte opcode)
    {
        byte[] header = new byte[FrameHeader.Size];
        new FrameHeader(length, version, (Opcode)opcode, 0, 42).Write(header);
        return header;
    }

    [Theory]
    [InlineData(5u)]      // and too short (MalformedHeader)
    [InlineData(4096u)]   // and too long (FrameTooLarge)
    public void UnsupportedVersion_WinsOverEveryLengthError(uint length)
    {
        Assert.Equal(ErrorCode.UnsupportedVersion, FrameError(Header(length, 2, 0x02)));
    }

    [Fact]
    public void MalformedHeader_AndFrameTooLarge_CannotBothApply_EachFromTheLengthAlone()
    {
        // A length below 16 is never above the max frame size (at least 256): the two are exclusive.
        Assert.Equal(ErrorCode.MalformedHeader, FrameError(Header(15, 1, 0x10)));
        Assert.Equal(ErrorCode.FrameTooLarge, FrameError(Header(1025, 1, 0x02)));
    }

    [Theory]
    [InlineData((byte)0x10)]
    [InlineData((byte)0x81)]
    public void FrameTooLarge_WinsOverUnknownOpcode(byte opcode)
    {
        Assert.Equal(ErrorCode.FrameTooLarge, FrameError(Header(1025, 1, opcode)));
    }

    [Fact]
    public void UnknownOpcode_WinsOverAnyPayloadError()
    {
        byte[] tooMany = Page(300, 1, (ref MessagePackWriter w) => Context(ref w, hour: 24));

        Assert.Equal(ErrorCode.UnknownOpcode, Dispatch((Opcode)0x10, [0xc1, 0xff]));
        Assert.Equal(ErrorCode.UnknownOpcode, Dispatch((Opcode)0x82, tooMany)); // a response opcode with a bad page
    }

    [Fact]
    public void TopLevelArrayMalformed_WinsOverTheContextsErrors()
    {
        byte[] payload = Msgpack((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(1); // [context] alone: too few elements, with an hour out of range in it
            Context(ref w, hour: 24);
        });

        Assert.Equal(ErrorCode.MalformedPayload, Dispatch(Opcode.SelectPage, payload));
        Assert.Equal(ErrorCode.MalformedPayload, Dispatch(Opcode.Select, payload));
    }

    [Fact]
    public void ContextFields_FirstWrongFieldWins()
    {
        // A negative member (malformed) before an hour out of range (invalid), and an invalid country before a device
        // that is not a u8 (malformed).
        byte[] memberFirst = Page(1, 1, (ref MessagePackWriter w) => Context(ref w, member: -1, hour: 24));
        byte[] countryFirst = Page(1, 1, (ref MessagePackWriter w) => Context(ref w, country: 0x0101, device: 300));

        Assert.Equal(ErrorCode.MalformedPayload, Dispatch(Opcode.SelectPage, memberFirst));
        Assert.Equal(ErrorCode.InvalidField, Dispatch(Opcode.SelectPage, countryFirst));
    }

    [Fact]
    public void ContextInvalidField_WinsOverTooManyTitles()
    {
        byte[] badHour = Page(300, 1, (ref MessagePackWriter w) => Context(ref w, hour: 24));
        byte[] tooManyGenres = Page(300, 1, (ref MessagePackWriter w) => Context(ref w, genres: 17));

        Assert.Equal(ErrorCode.InvalidField, Dispatch(Opcode.SelectPage, badHour));
        Assert.Equal(ErrorCode.InvalidField, Dispatch(Opcode.SelectPage, tooManyGenres));
    }

    [Fact]
    public void GenreCountOverTheLimit_WinsOverTheGenresMissing()
    {
        // 17 (or 2^32-1) genres declared, one present: the count is checked before the elements are known to be there.
        byte[] payload = Msgpack((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            Context(ref w, genres: 17);
        });
        byte[] huge = Msgpack((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            w.WriteArrayHeader(7);
            w.Write(5);
            w.Write(0);
            w.Write(0);
            w.Write(1);
            w.Write(10);
            w.Write(3);
            w.WriteRaw(new byte[] { 0xdd, 0xff, 0xff, 0xff, 0xff });
        });

        Assert.Equal(ErrorCode.InvalidField, Dispatch(Opcode.Select, payload));
        Assert.Equal(ErrorCode.InvalidField, Dispatch(Opcode.Select, huge));
    }

    [Theory]
    [InlineData(300, 1, false)]          // the case that got MalformedPayload: 300 claimed, one present
    [InlineData(9, 0, false)]            // one over the limit, none present
    [InlineData(9, 8, false)]
    [InlineData(300, 1, true)]           // the same count as an array32
    [InlineData(int.MaxValue, 0, true)]
    [InlineData(-1, 0, true)]            // 0xffffffff: 2^32-1 titles, not a negative count
    public void TooManyTitles_WinsOverTheTitlesMissing(int declared, int present, bool array32)
    {
        byte[] payload = Page(declared, present, (ref MessagePackWriter w) => Context(ref w), array32: array32);

        Assert.Equal(ErrorCode.TooManyTitles, Dispatch(Opcode.SelectPage, payload));
    }

    [Fact]
    public void TooManyTitles_WinsOverAMalformedTitleAndBytesAfterThePayload()
    {
        byte[] badTitle = Msgpack((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            Context(ref w);
            w.WriteArrayHeader(300);
            w.Write("not a title");
        });
        byte[] trailing = Page(9, 9, (ref MessagePackWriter w) => Context(ref w), after: [0x01, 0x02]);

        Assert.Equal(ErrorCode.TooManyTitles, Dispatch(Opcode.SelectPage, badTitle));
        Assert.Equal(ErrorCode.TooManyTitles, Dispatch(Opcode.SelectPage, trailing));
    }

    [Fact]
    public void WithinTheLimit_TitlesMissingOrBytesAfter_MalformedPayload()
    {
        // The last two entries of the order: both malformed, and a page within the limit still gets that.
        Assert.Equal(ErrorCode.MalformedPayload, Dispatch(Opcode.SelectPage, Page(8, 1, (ref MessagePackWriter w) => Context(ref w))));
        Assert.Equal(ErrorCode.MalformedPayload, Dispatch(Opcode.SelectPage, Page(1, 1, (ref MessagePackWriter w) => Context(ref w), after: [0x01])));
    }
}
