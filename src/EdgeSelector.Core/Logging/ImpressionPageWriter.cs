using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
        // One length check above, then plain little-endian stores (the header's fields are aligned, and every byte of
        // it is written: the reserved byte 39 as 0). ImpressionPageTests read each field back.
        ref byte header = ref MemoryMarshal.GetReference(_entry);
        header = ImpressionPage.Version;
        Unsafe.Add(ref header, 1) = (byte)LogRecordKind.ImpressionPage;
        Store(ref header, CountOffset, (ushort)titleCount);
        Store(ref header, StrideOffset, (ushort)TitleSize);
        Unsafe.Add(ref header, ArmOffset) = arm;
        Unsafe.Add(ref header, FlagsOffset) = (byte)flags;
        Store(ref header, FirstEventIdOffset, firstEventId);
        Store(ref header, TimestampOffset, (ulong)timestampMs);
        Store(ref header, MemberIdOffset, member.MemberId);
        Store(ref header, CountryOffset, member.Country);
        Store(ref header, LanguageOffset, member.Language);
        Unsafe.Add(ref header, DeviceOffset) = (byte)member.Device;
        Unsafe.Add(ref header, HourOffset) = member.LocalHour;
        Unsafe.Add(ref header, DayOffset) = member.DayOfWeek;
        Unsafe.Add(ref header, DayOffset + 1) = 0;
        if (BitConverter.IsLittleEndian)
        {
            // f32[16] little-endian is the genre vector's own bytes: one 64-byte struct store (inside the checked size).
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref header, GenresOffset), member.Genres);
        }
        else
        {
            var genres = _entry[GenresOffset..];
            for (var i = 0; i < MemberProfile.GenreCount; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(genres[(i * sizeof(float))..], member.Genres[i]);
            }
        }
    }

    /// <summary>How many titles the page holds.</summary>
    public int TitleCount => (_entry.Length - HeaderSize) / TitleSize;

    /// <summary>The encoded entry (exactly <see cref="SizeOf"/> bytes of the destination).</summary>
    public ReadOnlySpan<byte> Entry => _entry;

    /// <summary>Writes title <paramref name="index"/> (its event id is the page's first event id + <paramref name="index"/>).</summary>
    public void SetTitle(int index, in TitleDecision decision)
    {
        if ((uint)index >= (uint)TitleCount)
        {
            LogRecordThrow.TitleIndexOutOfRange(index, TitleCount);
        }

        // Every byte of the block is written (the reserved byte 39 as 0); the index check above bounds the stores.
        ref byte title = ref Unsafe.Add(ref MemoryMarshal.GetReference(_entry), HeaderSize + (index * TitleSize));
        Store(ref title, PropensityOffset, BitConverter.DoubleToUInt64Bits(decision.Propensity));
        Store(ref title, ModelVersionOffset, decision.ModelVersion);
        Store(ref title, TitleIdOffset, decision.TitleId);
        Store(ref title, ImageIdOffset, decision.ChosenImageId);
        Store(ref title, PolicyParameterOffset, BitConverter.SingleToUInt32Bits(decision.PolicyParameter));
        Store(ref title, ScoreOffset, BitConverter.SingleToUInt32Bits(decision.RecommenderScore));
        Store(ref title, IndexOffset, decision.ChosenIndex);
        Store(ref title, CandidatesOffset, decision.CandidateCount);
        Unsafe.Add(ref title, FallbackOffset) = (byte)decision.Fallback;
        Unsafe.Add(ref title, PolicyOffset) = (byte)decision.PolicyKind;
        Unsafe.Add(ref title, InteractedOffset) = decision.Interacted ? (byte)1 : (byte)0;
        Unsafe.Add(ref title, InteractedOffset + 1) = 0;
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref byte at, int offset, ushort value) =>
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, offset), BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref byte at, int offset, uint value) =>
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, offset), BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref byte at, int offset, ulong value) =>
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, offset), BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value));
}
