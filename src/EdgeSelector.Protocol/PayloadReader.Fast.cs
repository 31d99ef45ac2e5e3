using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeSelector.Protocol;

/// <summary>
/// The fast path of SELECT and SELECT_PAGE (docs/protocol.md#payloads): a payload in one segment whose every element
/// has a common form (the fixed-width forms <see cref="FrameWriter"/> writes, or the compact ones of other writers)
/// and no extra elements is read straight from its span, without MessagePackReader. Anything else (a string locale,
/// a float64 score, extra elements, a map, bad or truncated input, a value out of range) is left to the full reader,
/// which starts over: the fast path only ever accepts what the full reader accepts, with the same result
/// (PayloadReaderFastPathTests compare the two on valid, mutated and truncated payloads), and never reports an error.
/// </summary>
public static partial class PayloadReader
{
    private const byte Nil = 0xc0;
    private const byte False = 0xc2;
    private const byte True = 0xc3;
    private const byte Float32 = 0xca;

    // SELECT: [context, title] with nothing after.
    private static bool TryReadSelectFast(ReadOnlySpan<byte> s, ref RequestContext context, out TitleCandidate title)
    {
        title = default;
        int pos = 0;
        return TryReadArrayHeader(s, ref pos, out int count) && count == 2
            && TryReadContextFast(s, ref pos, ref context)
            && TryReadTitleFast(s, ref pos, out title)
            && pos == s.Length;
    }

    // SELECT_PAGE: [context, [title, ...]] with nothing after; at most maxTitles titles.
    private static bool TryReadSelectPageFast(ReadOnlySpan<byte> s, int maxTitles, ref RequestContext context, Span<TitleCandidate> titles, out int titleCount)
    {
        titleCount = 0;
        int pos = 0;
        if (!TryReadArrayHeader(s, ref pos, out int count) || count != 2
            || !TryReadContextFast(s, ref pos, ref context)
            || !TryReadArrayHeader(s, ref pos, out int n) || n > maxTitles || n > titles.Length)
        {
            return false;
        }

        for (int i = 0; i < n; i++)
        {
            if (!TryReadTitleFast(s, ref pos, out titles[i]))
            {
                return false;
            }
        }

        titleCount = n;
        return pos == s.Length;
    }

    // The six fixed fields as FrameWriter writes them: fixarray(8), uint64 member, uint16 country, uint16 language,
    // uint8 device, uint8 hour, uint8 day (22 bytes; docs/protocol.md#payloads).
    internal const int FixedContextBytes = 22;
    private const int FixedTitleBytes = 12;

    // context: [member_id, country, language, device, hour, day_of_week, genres?, timestamp_ms?] (6 to 8 elements)
    private static bool TryReadContextFast(ReadOnlySpan<byte> s, ref int pos, ref RequestContext context)
    {
        int count;
        if (!TryReadFixedContext(s, ref pos, ref context))
        {
            // Another layout (compact integers, fewer elements): element by element.
            if (!TryReadArrayHeader(s, ref pos, out count) || count < 6 || count > 8
                || !TryReadUInt(s, ref pos, out ulong member)
                || !TryReadUInt(s, ref pos, out ulong country) || country > ushort.MaxValue || !CountryCode.IsValidPacked((ushort)country)
                || !TryReadUInt(s, ref pos, out ulong language) || language > ushort.MaxValue || !CountryCode.IsValidPacked((ushort)language)
                || !TryReadUInt(s, ref pos, out ulong device) || device > byte.MaxValue
                || !TryReadUInt(s, ref pos, out ulong hour) || hour > 23
                || !TryReadUInt(s, ref pos, out ulong day) || day > 6)
            {
                return false;
            }

            context.MemberId = member;
            context.Country = (ushort)country;
            context.Language = (ushort)language;
            context.Device = (DeviceClass)device;
            context.HourOfDay = (byte)hour;
            context.DayOfWeek = (byte)day;
        }
        else
        {
            count = 8;
        }

        if (count > 6)
        {
            if ((uint)pos >= (uint)s.Length)
            {
                return false;
            }

            if (s[pos] == Nil)
            {
                pos++;
            }
            else
            {
                if (!TryReadArrayHeader(s, ref pos, out int genres) || genres > FeatureSchema.GenreCount)
                {
                    return false;
                }

                for (int i = 0; i < genres; i++)
                {
                    // An affinity is a share in [0, 1]; NaN fails both comparisons (the full reader refuses it).
                    if (!TryReadFloat32(s, ref pos, out float affinity) || !(affinity >= 0f && affinity <= 1f))
                    {
                        return false;
                    }

                    context.Genres[i] = affinity;
                }

                context.GenreCount = (byte)genres;
            }
        }

        if (count > 7)
        {
            if ((uint)pos >= (uint)s.Length)
            {
                return false;
            }

            if (s[pos] == Nil)
            {
                pos++;
            }
            else if (!TryReadUInt(s, ref pos, out ulong timestamp) || timestamp > long.MaxValue)
            {
                return false;
            }
            else
            {
                context.TimestampUnixMs = (long)timestamp;
            }
        }

        return true;
    }

    // FrameWriter's context header and six fixed fields (FixedContextBytes) read at their fixed offsets, with the checks
    // of the element-by-element path; false (pos and context untouched) for any other layout, or a value out of range.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryReadFixedContext(ReadOnlySpan<byte> s, ref int pos, ref RequestContext context)
    {
        if (s.Length - pos < FixedContextBytes)
        {
            return false;
        }

        ref byte p = ref Unsafe.Add(ref MemoryMarshal.GetReference(s), pos);
        if (!IsFixedContextHead(ref p))
        {
            return false;
        }

        ushort country = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, 11)));
        ushort language = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, 14)));
        byte hour = Unsafe.Add(ref p, 19);
        byte day = Unsafe.Add(ref p, 21);
        if (!CountryCode.IsValidPacked(country) || !CountryCode.IsValidPacked(language) || hour > 23 || day > 6)
        {
            return false;
        }

        context.MemberId = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, 2)));
        context.Country = country;
        context.Language = language;
        context.Device = (DeviceClass)Unsafe.Add(ref p, 17);
        context.HourOfDay = hour;
        context.DayOfWeek = day;
        pos += FixedContextBytes;
        return true;
    }

    // True if the FixedContextBytes at p carry FrameWriter's markers: fixarray(8), uint64, uint16, uint16, uint8, uint8,
    // uint8 (the values are not checked). The one definition of that layout for this reader and PayloadPeek.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsFixedContextHead(ref byte p) =>
        p == 0x98 && Unsafe.Add(ref p, 1) == 0xcf && Unsafe.Add(ref p, 10) == 0xcd && Unsafe.Add(ref p, 13) == 0xcd
        && Unsafe.Add(ref p, 16) == 0xcc && Unsafe.Add(ref p, 18) == 0xcc && Unsafe.Add(ref p, 20) == 0xcc;

    // title: [title_id, score, interacted] (exactly 3 elements)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryReadTitleFast(ReadOnlySpan<byte> s, ref int pos, out TitleCandidate title)
    {
        if (TryReadFixedTitle(s, ref pos, out title))
        {
            return true;
        }

        if (!TryReadArrayHeader(s, ref pos, out int count) || count != 3
            || !TryReadUInt(s, ref pos, out ulong id) || id > uint.MaxValue
            || !TryReadFloat32(s, ref pos, out float score)
            || (uint)pos >= (uint)s.Length)
        {
            return false;
        }

        byte flag = s[pos];
        if (flag is not (True or False))
        {
            return false;
        }

        pos++;
        title = new TitleCandidate((uint)id, score, flag == True);
        return true;
    }

    // FrameWriter's title layout at fixed offsets: fixarray(3), uint32 id, float32 score, bool (FixedTitleBytes).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryReadFixedTitle(ReadOnlySpan<byte> s, ref int pos, out TitleCandidate title)
    {
        if (s.Length - pos >= FixedTitleBytes)
        {
            ref byte p = ref Unsafe.Add(ref MemoryMarshal.GetReference(s), pos);
            byte flag = Unsafe.Add(ref p, 11);
            if (p == 0x93 && Unsafe.Add(ref p, 1) == 0xce && Unsafe.Add(ref p, 6) == Float32 && flag is True or False)
            {
                uint id = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, 2)));
                uint score = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, 7)));
                title = new TitleCandidate(id, BitConverter.UInt32BitsToSingle(score), flag == True);
                pos += FixedTitleBytes;
                return true;
            }
        }

        title = default;
        return false;
    }

    // fixarray, array16, array32 (a count above int.MaxValue is left to the full reader).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryReadArrayHeader(ReadOnlySpan<byte> s, ref int pos, out int count)
    {
        count = 0;
        if ((uint)pos >= (uint)s.Length)
        {
            return false;
        }

        byte code = s[pos];
        if ((code & 0xf0) == 0x90)
        {
            count = code & 0x0f;
            pos++;
            return true;
        }

        if (code == 0xdc && s.Length - pos >= 3)
        {
            count = BinaryPrimitives.ReadUInt16BigEndian(s.Slice(pos + 1));
            pos += 3;
            return true;
        }

        if (code == 0xdd && s.Length - pos >= 5)
        {
            uint n = BinaryPrimitives.ReadUInt32BigEndian(s.Slice(pos + 1));
            if (n > int.MaxValue)
            {
                return false;
            }

            count = (int)n;
            pos += 5;
            return true;
        }

        return false;
    }

    // A non-negative integer in any of MessagePack's integer forms (positive fixint, uint8-64 here; int8-64 out of
    // line); a negative one is left to the full reader (which refuses it as an overflow or an invalid field).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryReadUInt(ReadOnlySpan<byte> s, ref int pos, out ulong value)
    {
        if ((uint)pos >= (uint)s.Length)
        {
            value = 0;
            return false;
        }

        byte code = s[pos];
        if (code <= 0x7f)
        {
            value = code;
            pos++;
            return true;
        }

        // uint8, uint16, uint32, uint64: cc..cf, 1 << (code - cc) big-endian bytes (what FrameWriter writes).
        uint width = (uint)(code - 0xcc);
        if (width <= 3)
        {
            int size = 1 << (int)width;
            if (s.Length - pos - 1 < size)
            {
                value = 0;
                return false;
            }

            ReadOnlySpan<byte> body = s.Slice(pos + 1);
            value = width switch
            {
                0 => body[0],
                1 => BinaryPrimitives.ReadUInt16BigEndian(body),
                2 => BinaryPrimitives.ReadUInt32BigEndian(body),
                _ => BinaryPrimitives.ReadUInt64BigEndian(body),
            };
            pos += 1 + size;
            return true;
        }

        return TryReadUIntSlow(s, ref pos, code, out value);
    }

    // int8, int16, int32, int64 (d0..d3) holding a non-negative value.
    private static bool TryReadUIntSlow(ReadOnlySpan<byte> s, ref int pos, byte code, out ulong value)
    {
        value = 0;
        uint width = (uint)(code - 0xd0);
        int size = 1 << (int)width;
        if (width > 3 || s.Length - pos - 1 < size)
        {
            return false;
        }

        ReadOnlySpan<byte> body = s.Slice(pos + 1);
        long signedValue = width switch
        {
            0 => (sbyte)body[0],
            1 => BinaryPrimitives.ReadInt16BigEndian(body),
            2 => BinaryPrimitives.ReadInt32BigEndian(body),
            _ => BinaryPrimitives.ReadInt64BigEndian(body),
        };
        if (signedValue < 0)
        {
            return false;
        }

        value = (ulong)signedValue;
        pos += 1 + size;
        return true;
    }

    // float32 only (a float64 or an integer is left to the full reader, which converts them).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryReadFloat32(ReadOnlySpan<byte> s, ref int pos, out float value)
    {
        if (s.Length - pos < 5 || s[pos] != Float32)
        {
            value = 0;
            return false;
        }

        value = BitConverter.UInt32BitsToSingle(BinaryPrimitives.ReadUInt32BigEndian(s.Slice(pos + 1)));
        pos += 5;
        return true;
    }
}
