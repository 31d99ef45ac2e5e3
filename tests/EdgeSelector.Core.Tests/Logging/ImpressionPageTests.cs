using System.Buffers.Binary;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using Xunit;

namespace EdgeSelector.Core.Tests.Logging;

/// <summary>The page entry (docs/impression-log.md): layout, round trips, truncation, the old layout, no allocation.</summary>
public class ImpressionPageTests
{
    private const ulong FirstEventId = 0x0010_0000_0000_0100;
    private const long Timestamp = 1_764_300_000_123;

    private static MemberContext Member()
    {
        var member = new MemberContext
        {
            MemberId = ulong.MaxValue - 5,
            Country = CountryCode.Pack("US"),
            Language = CountryCode.Pack("es"),
            Device = DeviceClass.Tablet,
            LocalHour = 21,
            DayOfWeek = 5,
        };
        for (var i = 0; i < MemberProfile.GenreCount; i++)
        {
            member.Genres[i] = i / 16f;
        }

        return member;
    }

    private static TitleDecision Title(int i) => new()
    {
        TitleId = (uint)(80_100_000 + i),
        ChosenImageId = (uint)(4_000_000_000 + i),
        ChosenIndex = (ushort)(i % 7),
        CandidateCount = (ushort)(7 + (i % 3)),
        Fallback = (FallbackReason)(i % 8),
        PolicyKind = (PolicyKind)(i % 6),
        PolicyParameter = 0.1f * (i % 4),
        Propensity = 1.0 / (3 + i),
        ModelVersion = 20_261_128UL + (ulong)i,
        RecommenderScore = i / 100f,
        Interacted = i % 2 == 1,
    };

    private static byte[] Page(int count, byte arm = 1, MemberFlags flags = MemberFlags.ProfileFound)
    {
        var buffer = new byte[ImpressionPage.SizeOf(count)];
        var writer = new ImpressionPageWriter(buffer, count, FirstEventId, Timestamp, Member(), flags, arm);
        for (var i = 0; i < count; i++)
        {
            writer.SetTitle(i, Title(i));
        }

        Assert.Equal(buffer.Length, writer.Entry.Length);
        return buffer;
    }

    private static void AssertTitle(int i, in ImpressionRecord r)
    {
        var expected = Title(i);
        var member = Member();
        Assert.Equal(FirstEventId + (ulong)i, r.EventId);
        Assert.Equal(Timestamp, r.TimestampMs);
        Assert.Equal(member.MemberId, r.MemberId);
        Assert.Equal(member.Country, r.Country);
        Assert.Equal(member.Language, r.Language);
        Assert.Equal(member.Device, r.Device);
        Assert.Equal(member.LocalHour, r.LocalHour);
        Assert.Equal(member.DayOfWeek, r.DayOfWeek);
        for (var g = 0; g < MemberProfile.GenreCount; g++)
        {
            Assert.Equal(member.Genres[g], r.Genres[g]);
        }

        Assert.Equal(expected.TitleId, r.TitleId);
        Assert.Equal(expected.ChosenImageId, r.ChosenImageId);
        Assert.Equal(expected.ChosenIndex, r.ChosenIndex);
        Assert.Equal(expected.CandidateCount, r.CandidateCount);
        Assert.Equal(expected.Fallback, r.Fallback);
        Assert.Equal(expected.PolicyKind, r.PolicyKind);
        Assert.Equal(expected.PolicyParameter, r.PolicyParameter);
        Assert.Equal(expected.Propensity, r.Propensity);
        Assert.Equal(expected.ModelVersion, r.ModelVersion);
        Assert.Equal(expected.RecommenderScore, r.RecommenderScore);
        Assert.Equal(expected.Interacted ? 1 : 0, r.InteractedBefore);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(40)]
    public void RoundTrip_EveryTitle_ExpandsToItsPerTitleView(int count)
    {
        var buffer = Page(count);

        Assert.True(ImpressionPageReader.TryRead(buffer, out var page));
        Assert.Equal(count, page.Count);
        Assert.Equal(FirstEventId, page.FirstEventId);
        Assert.Equal(Timestamp, page.TimestampMs);
        Assert.Equal(1, page.Arm);
        Assert.Equal(MemberFlags.ProfileFound, page.Flags);
        var seen = 0;
        foreach (var impression in page)
        {
            AssertTitle(seen, impression);
            Assert.Equal(1, impression.Arm);
            Assert.Equal(MemberFlags.ProfileFound, impression.MemberFlags);
            seen++;
        }

        Assert.Equal(count, seen);
        page.GetImpression(count - 1, out var last);
        AssertTitle(count - 1, last);
        Assert.Equal(Title(count - 1).TitleId, page.GetTitle(count - 1).TitleId);
    }

    [Fact]
    public void MaximumPage_65535Titles_RoundTrips()
    {
        var buffer = Page(ImpressionPage.MaxTitles);

        Assert.Equal(104 + (40 * 65_535), buffer.Length);
        Assert.True(ImpressionEntry.TryRead(buffer, out var entry));
        Assert.Equal(ImpressionPage.MaxTitles, entry.Count);
        var i = 0;
        foreach (var impression in entry)
        {
            Assert.Equal(FirstEventId + (ulong)i, impression.EventId);
            Assert.Equal(Title(i).TitleId, impression.TitleId);
            i++;
        }

        Assert.Equal(ImpressionPage.MaxTitles, i);
        entry.GetImpression(ImpressionPage.MaxTitles - 1, out var last);
        AssertTitle(ImpressionPage.MaxTitles - 1, last);
    }

    [Fact]
    public void Write_MatchesDocumentedOffsets()
    {
        var b = Page(2, arm: 1, flags: MemberFlags.GenresFromRequest);

        Assert.Equal(1, b[0]);
        Assert.Equal(3, b[1]);
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(2)));
        Assert.Equal(40, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(4)));
        Assert.Equal(1, b[6]);
        Assert.Equal((byte)MemberFlags.GenresFromRequest, b[7]);
        Assert.Equal(FirstEventId, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(8)));
        Assert.Equal(Timestamp, BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(16)));
        Assert.Equal(ulong.MaxValue - 5, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(24)));
        Assert.Equal(('U' << 8) | 'S', BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(32)));
        Assert.Equal(('E' << 8) | 'S', BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(34)));
        Assert.Equal((byte)DeviceClass.Tablet, b[36]);
        Assert.Equal(21, b[37]);
        Assert.Equal(5, b[38]);
        Assert.Equal(0, b[39]);
        Assert.Equal(15 / 16f, BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(40 + (15 * 4))));

        var t1 = b.AsSpan(104 + 40);
        Assert.Equal(1.0 / 4, BinaryPrimitives.ReadDoubleLittleEndian(t1));
        Assert.Equal(20_261_129UL, BinaryPrimitives.ReadUInt64LittleEndian(t1[8..]));
        Assert.Equal(80_100_001U, BinaryPrimitives.ReadUInt32LittleEndian(t1[16..]));
        Assert.Equal(4_000_000_001U, BinaryPrimitives.ReadUInt32LittleEndian(t1[20..]));
        Assert.Equal(0.1f, BinaryPrimitives.ReadSingleLittleEndian(t1[24..]));
        Assert.Equal(0.01f, BinaryPrimitives.ReadSingleLittleEndian(t1[28..]));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(t1[32..]));
        Assert.Equal(8, BinaryPrimitives.ReadUInt16LittleEndian(t1[34..]));
        Assert.Equal((byte)FallbackReason.UnknownTitle, t1[36]);
        Assert.Equal((byte)PolicyKind.EpsilonGreedy, t1[37]);
        Assert.Equal(1, t1[38]);
        Assert.Equal(0, t1[39]);
    }

    [Fact]
    public void TryRead_EveryTruncation_Rejected()
    {
        foreach (var count in new[] { 1, 3 })
        {
            var buffer = Page(count);
            for (var length = 0; length < buffer.Length; length++)
            {
                Assert.False(ImpressionPageReader.TryRead(buffer.AsSpan(0, length), out _), $"{count} titles cut to {length}");
                Assert.False(ImpressionEntry.TryRead(buffer.AsSpan(0, length), out _), $"{count} titles cut to {length}");
            }

            Assert.True(ImpressionEntry.TryRead(buffer, out _));
        }
    }

    [Fact]
    public void TryRead_WrongVersionKindCountOrStride_Rejected()
    {
        static bool Read(Action<byte[]> damage)
        {
            var buffer = Page(2);
            damage(buffer);
            return ImpressionPageReader.TryRead(buffer, out _) || ImpressionEntry.TryRead(buffer, out _);
        }

        Assert.False(Read(b => b[0] = 2));
        Assert.False(Read(b => b[1] = (byte)LogRecordKind.Reward));
        Assert.False(Read(b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), 0)));
        Assert.False(Read(b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), 3)));
        Assert.False(Read(b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4), 39)));
        Assert.False(Read(b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4), 41)));
    }

    [Fact]
    public void TryRead_LongerStrideAndTrailingBytes_ReadForForwardCompatibility()
    {
        // A later layout may append fields to each title: readers take the first 40 bytes of each stride.
        const int stride = 48;
        var source = Page(3);
        var wide = new byte[ImpressionPage.HeaderSize + (3 * stride) + 5];
        source.AsSpan(0, ImpressionPage.HeaderSize).CopyTo(wide);
        BinaryPrimitives.WriteUInt16LittleEndian(wide.AsSpan(4), stride);
        for (var i = 0; i < 3; i++)
        {
            source.AsSpan(ImpressionPage.HeaderSize + (i * 40), 40).CopyTo(wide.AsSpan(ImpressionPage.HeaderSize + (i * stride)));
            wide.AsSpan(ImpressionPage.HeaderSize + (i * stride) + 40, 8).Fill(0xEE);
        }

        Assert.True(ImpressionEntry.TryRead(wide, out var entry));
        var i2 = 0;
        foreach (var impression in entry)
        {
            AssertTitle(i2++, impression);
        }

        Assert.Equal(3, i2);
    }

    [Fact]
    public void Write_EveryByteWritten_WhateverTheDestinationHeld()
    {
        // The server builds entries in uninitialised stack or pooled memory: no byte may keep what was there.
        var member = Member();
        var zeros = new byte[ImpressionPage.SizeOf(3)];
        var ones = Enumerable.Repeat((byte)0xFF, zeros.Length).ToArray();
        foreach (var destination in new[] { zeros, ones })
        {
            var page = new ImpressionPageWriter(destination, 3, FirstEventId, Timestamp, member, MemberFlags.ProfileFound, arm: 1);
            for (var i = 0; i < 3; i++)
            {
                page.SetTitle(i, Title(i));
            }
        }

        Assert.Equal(zeros, ones);
    }

    [Fact]
    public void SetTitle_IndexOutsideThePage_Throws()
    {
        var member = Member();
        var destination = new byte[ImpressionPage.SizeOf(3)];
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImpressionPageWriter(destination, 2, 1, 1, member, MemberFlags.None).SetTitle(2, Title(0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImpressionPageWriter(destination, 2, 1, 1, member, MemberFlags.None).SetTitle(-1, Title(0)));
    }

    [Fact]
    public void Writer_BadCountOrShortDestination_Throws()
    {
        var member = Member();
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImpressionPageWriter(new byte[200], 0, 1, 1, member, MemberFlags.None));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImpressionPageWriter(new byte[ImpressionPage.SizeOf(65_536)], 65_536, 1, 1, member, MemberFlags.None));
        Assert.Throws<ArgumentException>(() => new ImpressionPageWriter(new byte[ImpressionPage.SizeOf(2) - 1], 2, 1, 1, member, MemberFlags.None));
    }

    [Fact]
    public void ImpressionEntry_Version1PerTitleRecord_StillRead()
    {
        var record = LogRecordTests.Sample();
        var buffer = new byte[ImpressionRecord.RecordSize];
        record.WriteRecord(buffer);

        Assert.True(ImpressionEntry.TryRead(buffer, out var entry));
        Assert.False(entry.IsPage);
        Assert.Equal(1, entry.Count);
        var n = 0;
        foreach (var back in entry)
        {
            Assert.Equal(record.EventId, back.EventId);
            Assert.Equal(record.TitleId, back.TitleId);
            Assert.Equal(record.Propensity, back.Propensity);
            Assert.Equal(record.Genres[15], back.Genres[15]);
            Assert.Equal(0, back.Arm);
            Assert.Equal(MemberFlags.None, back.MemberFlags);
            n++;
        }

        Assert.Equal(1, n);
        Assert.False(ImpressionEntry.TryRead(buffer.AsSpan(0, ImpressionRecord.RecordSize - 1), out _));
    }

    [Fact]
    public void WriteSingle_PerTitleView_RoundTripsAsAPageOfOne()
    {
        var record = LogRecordTests.Sample();
        record.Arm = 1;
        record.MemberFlags = MemberFlags.GenresFromRequest;
        var buffer = new byte[ImpressionPage.SizeOf(1)];

        Assert.Equal(144, ImpressionPageWriter.WriteSingle(buffer, record));
        Assert.True(ImpressionEntry.TryRead(buffer, out var entry));
        Assert.True(entry.IsPage);
        entry.GetImpression(0, out var back);
        Assert.Equal(record.EventId, back.EventId);
        Assert.Equal(record.TimestampMs, back.TimestampMs);
        Assert.Equal(record.MemberId, back.MemberId);
        Assert.Equal(record.TitleId, back.TitleId);
        Assert.Equal(record.ChosenImageId, back.ChosenImageId);
        Assert.Equal(record.ChosenIndex, back.ChosenIndex);
        Assert.Equal(record.CandidateCount, back.CandidateCount);
        Assert.Equal(record.Propensity, back.Propensity);
        Assert.Equal(record.PolicyKind, back.PolicyKind);
        Assert.Equal(record.PolicyParameter, back.PolicyParameter);
        Assert.Equal(record.ModelVersion, back.ModelVersion);
        Assert.Equal(record.Fallback, back.Fallback);
        Assert.Equal(record.Country, back.Country);
        Assert.Equal(record.Device, back.Device);
        Assert.Equal(record.RecommenderScore, back.RecommenderScore);
        Assert.Equal(record.InteractedBefore, back.InteractedBefore);
        Assert.Equal(1, back.Arm);
        Assert.Equal(MemberFlags.GenresFromRequest, back.MemberFlags);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            Assert.True(ImpressionEntry.TryRead(buffer, out var again));
            again.GetImpression(1, out _);
        });
    }

    [Fact]
    public void FromDecision_ThroughAPage_RebuildsTheSameFeatureVector()
    {
        var member = TestModels.Member(77, seed: 3);
        var title = TestModels.Title(42);
        var blob = TestModels.Random(images: 5, dimension: 64, seed: 9).Serialize();
        Assert.True(Models.ModelView.TryOpen(blob, Models.ModelCheck.Full, out var model, out _));
        var decision = new Selection.SelectionEngine(new Selection.SelectionOptions()).Select(model, member, title, 1_764_300_000_000);

        var buffer = new byte[ImpressionPage.SizeOf(1)];
        var writer = new ImpressionPageWriter(buffer, 1, 5, 1_764_300_000_000, member, MemberFlags.ProfileFound);
        writer.SetTitle(0, TitleDecision.From(decision, model.ImageCount, title));
        Assert.True(ImpressionEntry.TryRead(buffer, out var entry));
        entry.GetImpression(0, out var back);
        back.GetContexts(out var member2, out var title2);

        Assert.Equal((double)decision.Propensity, back.Propensity);
        Assert.Equal(decision.Index, back.ChosenIndex);
        var x1 = new float[64];
        var x2 = new float[64];
        Assert.True(FeatureEncoder.TryEncode(model.FeatureSpace, member, title, x1));
        Assert.True(FeatureEncoder.TryEncode(model.FeatureSpace, member2, title2, x2));
        Assert.Equal(x1, x2);
    }

    [Fact]
    public void WriteAndRead_AllocateNothing()
    {
        var member = Member();
        var titles = Enumerable.Range(0, 40).Select(Title).ToArray();
        var buffer = new byte[ImpressionPage.SizeOf(40)];
        var old = new byte[ImpressionRecord.RecordSize];
        LogRecordTests.Sample().WriteRecord(old);

        ulong Round()
        {
            var writer = new ImpressionPageWriter(buffer, 40, FirstEventId, Timestamp, member, MemberFlags.ProfileFound);
            for (var i = 0; i < titles.Length; i++)
            {
                writer.SetTitle(i, titles[i]);
            }

            ulong sum = 0;
            if (ImpressionEntry.TryRead(writer.Entry, out var entry))
            {
                foreach (var impression in entry)
                {
                    sum += impression.EventId + impression.TitleId;
                }
            }

            if (ImpressionEntry.TryRead(old, out var single))
            {
                foreach (var impression in single)
                {
                    sum += impression.EventId;
                }
            }

            return sum;
        }

        Round();
        var before = GC.GetAllocatedBytesForCurrentThread();
        ulong total = 0;
        for (var i = 0; i < 1000; i++)
        {
            total += Round();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.NotEqual(0UL, total);
    }
}
