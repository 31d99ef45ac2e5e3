using System.Buffers.Binary;
using EdgeSelector.Core.Features;
using static EdgeSelector.Core.Logging.ImpressionPage;

namespace EdgeSelector.Core.Logging;

/// <summary>
/// Writes one page entry (<see cref="ImpressionPage"/>) into a caller-owned span: the header at construction, each
/// title with <see cref="SetTitle"/>. No allocation (<c>ImpressionPageTests.WriteAndRead_AllocateNothing</c>), so the
/// server builds the entry on the request path and enqueues <see cref="Entry"/> once per page.
/// </summary>
public readonly ref struct ImpressionPageWriter
{
    private readonly Span<byte> _entry;

    /// <summary>
    /// Writes the header of a page of <paramref name="titleCount"/> titles into <paramref name="destination"/>. Every title
    /// must then be set before <see cref="Entry"/> is used (the title blocks are not cleared).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="titleCount"/> is not in 1..<see cref="MaxTitles"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="SizeOf"/>.</exception>
    public ImpressionPageWriter(
        Span<byte> destination, int titleCount, ulong firstEventId, long timestampMs, in MemberContext member, MemberFlags flags, byte arm = 0)
    {
        if (titleCount is < 1 or > MaxTitles)
        {
            LogRecordThrow.TitleCountOutOfRange(titleCount);
        }

        int size = SizeOf(titleCount);
        if (destination.Length < size)
        {
            LogRecordThrow.DestinationTooShort(size, destination.Length);
        }

        _entry = destination[..size];
        var header = _entry[..HeaderSize];
        header[0] = ImpressionPage.Version;
        header[1] = (byte)LogRecordKind.ImpressionPage;
        BinaryPrimitives.WriteUInt16LittleEndian(header[CountOffset..], (ushort)titleCount);
        BinaryPrimitives.WriteUInt16LittleEndian(header[StrideOffset..], TitleSize);
        header[ArmOffset] = arm;
        header[FlagsOffset] = (byte)flags;
        BinaryPrimitives.WriteUInt64LittleEndian(header[FirstEventIdOffset..], firstEventId);
        BinaryPrimitives.WriteInt64LittleEndian(header[TimestampOffset..], timestampMs);
        BinaryPrimitives.WriteUInt64LittleEndian(header[MemberIdOffset..], member.MemberId);
        BinaryPrimitives.WriteUInt16LittleEndian(header[CountryOffset..], member.Country);
        BinaryPrimitives.WriteUInt16LittleEndian(header[LanguageOffset..], member.Language);
        header[DeviceOffset] = (byte)member.Device;
        header[HourOffset] = member.LocalHour;
        header[DayOffset] = member.DayOfWeek;
        header[DayOffset + 1] = 0;
        var genres = header[GenresOffset..];
        for (var i = 0; i < MemberProfile.GenreCount; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(genres[(i * sizeof(float))..], member.Genres[i]);
        }
    }

    /// <summary>How many titles the page holds.</summary>
    public int TitleCount => (_entry.Length - HeaderSize) / TitleSize;

    /// <summary>The encoded entry (exactly <see cref="SizeOf"/> bytes of the destination).</summary>
    public ReadOnlySpan<byte> Entry => _entry;

    /// <summary>Writes title <paramref name="index"/> (its event id is the page's first event id + <paramref name="index"/>).</summary>
    public void SetTitle(int index, in TitleDecision decision)
    {
        var title = _entry.Slice(HeaderSize + (index * TitleSize), TitleSize);
        BinaryPrimitives.WriteDoubleLittleEndian(title[PropensityOffset..], decision.Propensity);
        BinaryPrimitives.WriteUInt64LittleEndian(title[ModelVersionOffset..], decision.ModelVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(title[TitleIdOffset..], decision.TitleId);
        BinaryPrimitives.WriteUInt32LittleEndian(title[ImageIdOffset..], decision.ChosenImageId);
        BinaryPrimitives.WriteSingleLittleEndian(title[PolicyParameterOffset..], decision.PolicyParameter);
        BinaryPrimitives.WriteSingleLittleEndian(title[ScoreOffset..], decision.RecommenderScore);
        BinaryPrimitives.WriteUInt16LittleEndian(title[IndexOffset..], decision.ChosenIndex);
        BinaryPrimitives.WriteUInt16LittleEndian(title[CandidatesOffset..], decision.CandidateCount);
        title[FallbackOffset] = (byte)decision.Fallback;
        title[PolicyOffset] = (byte)decision.PolicyKind;
        title[InteractedOffset] = decision.Interacted ? (byte)1 : (byte)0;
        title[InteractedOffset + 1] = 0;
    }

    /// <summary>
    /// Writes <paramref name="record"/> as a page of one (what the record-file writer stores for a per-title record);
    /// returns the bytes written.
    /// </summary>
    public static int WriteSingle(Span<byte> destination, in ImpressionRecord record)
    {
        record.GetContexts(out var member, out _);
        var page = new ImpressionPageWriter(destination, 1, record.EventId, record.TimestampMs, member, record.MemberFlags, record.Arm);
        page.SetTitle(0, TitleDecision.From(record));
        return page.Entry.Length;
    }
}
