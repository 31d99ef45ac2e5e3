using System.Buffers;

namespace EdgeSelector.Protocol.Tests;

/// <summary>
/// The look-ahead a server runs over a batch before answering it (issue 12.1): the member id and "has genres" of a
/// SELECT or SELECT_PAGE, the same as <see cref="PayloadReader"/> decodes them, at every split of the payload.
/// </summary>
public class PayloadPeekTests
{
    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void TryReadMember_SelectAndPage_MatchesTheFullReader(bool withGenres, bool page)
    {
        var context = TestFrames.Context(withGenres);
        var payload = TestFrames.Payload(TestFrames.Build(b =>
        {
            if (page)
            {
                FrameWriter.WriteSelectPage(b, 1, in context, TestFrames.Titles(30));
            }
            else
            {
                FrameWriter.WriteSelect(b, 1, in context, in TestFrames.Title);
            }
        }));
        var scratch = new TitleCandidate[new ProtocolOptions().MaxTitlesPerPage];
        var error = page
            ? PayloadReader.ReadSelectPage(new ReadOnlySequence<byte>(payload), new ProtocolOptions(), out var decoded, scratch, out _)
            : PayloadReader.ReadSelect(new ReadOnlySequence<byte>(payload), out decoded, out _);
        Assert.Equal(ErrorCode.None, error);

        for (var at = 0; at <= payload.Length; at++)
        {
            Assert.True(PayloadPeek.TryReadMember(TestFrames.Split(payload, at), out var member, out var hasGenres));
            Assert.Equal(decoded.MemberId, member);
            Assert.Equal(decoded.GenreCount > 0, hasGenres);
        }
    }

    [Fact]
    public void TryReadMember_ContextOfSixFieldsOrNilOrEmptyGenres_NoGenres()
    {
        // [[member, country, language, device, hour, dow], title] and the same with genres nil and [].
        byte[] six = [0x92, 0x96, 0x07, 0x00, 0x00, 0x01, 0x0A, 0x03, 0x93, 0x09, 0x00, 0xC2];
        byte[] nil = [0x92, 0x97, 0x07, 0x00, 0x00, 0x01, 0x0A, 0x03, 0xC0, 0x93, 0x09, 0x00, 0xC2];
        byte[] empty = [0x92, 0x97, 0x07, 0x00, 0x00, 0x01, 0x0A, 0x03, 0x90, 0x93, 0x09, 0x00, 0xC2];
        foreach (var payload in new[] { six, nil, empty })
        {
            Assert.True(PayloadPeek.TryReadMember(new ReadOnlySequence<byte>(payload), out var member, out var hasGenres));
            Assert.Equal(7UL, member);
            Assert.False(hasGenres);
        }
    }

    [Theory]
    [InlineData(41, false)]
    [InlineData(42, true)]
    public void TryReadMember_EveryByteMutatedOrCut_OneSegmentAndManyAgree(int seed, bool page)
    {
        // One segment in FrameWriter's layout is read at fixed offsets; several go through MessagePackReader. Every byte
        // of a frame set to interesting values and its neighbours, and every cut, must give the same answer both ways.
        var random = new Random(seed);
        byte[] interesting = [0x00, 0x01, 0x7f, 0x90, 0x91, 0x92, 0x97, 0x98, 0x9f, 0xc0, 0xc2, 0xcc, 0xcd, 0xce, 0xcf, 0xd3, 0xdc, 0xdd, 0xff];
        for (int n = 0; n < 6; n++)
        {
            var context = TestFrames.Context(withGenres: n % 2 == 0);
            context.MemberId = (ulong)random.NextInt64();
            if (n % 3 == 2)
            {
                context.SetGenres([0.5f, 0.25f]);
            }

            byte[] payload = TestFrames.Payload(TestFrames.Build(b =>
            {
                if (page)
                {
                    FrameWriter.WriteSelectPage(b, 1, in context, TestFrames.Titles(2));
                }
                else
                {
                    FrameWriter.WriteSelect(b, 1, in context, in TestFrames.Title);
                }
            }));
            TestFrames.EachByteMutatedOrCut(payload, interesting, Check);
        }

        static void Check(byte[] bytes)
        {
            var one = PayloadPeek.TryReadMember(new ReadOnlySequence<byte>(bytes), out var oneMember, out var oneGenres);
            var many = PayloadPeek.TryReadMember(TestFrames.OneBytePerSegment(bytes), out var manyMember, out var manyGenres);
            Assert.Equal(many, one);
            if (many)
            {
                Assert.Equal(manyMember, oneMember);
                Assert.Equal(manyGenres, oneGenres);
            }
        }
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x91, 0x96 })] // one element
    [InlineData(new byte[] { 0x92, 0x95, 0x07 })] // a context of five
    [InlineData(new byte[] { 0x92, 0x96 })] // cut short
    [InlineData(new byte[] { 0x92, 0x97, 0x07, 0x91, 0x00, 0x00, 0x01, 0x0A, 0x03, 0xC0 })] // a nested country
    [InlineData(new byte[] { 0xC1 })] // never used
    public void TryReadMember_NotARequest_False(byte[] payload) =>
        Assert.False(PayloadPeek.TryReadMember(new ReadOnlySequence<byte>(payload), out _, out _));
}
