using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MessagePack;

namespace EdgeSelector.Protocol;

/// <summary>
/// Looks at the first fields of a SELECT or SELECT_PAGE payload without decoding it (docs/protocol.md#payloads): a
/// server reads the profiles of a batch's requests together before it decodes and answers each one in turn.
/// Allocation-free, never throws; validates nothing beyond what it reads (<see cref="PayloadReader"/> still decides).
/// </summary>
public static class PayloadPeek
{
    /// <summary>
    /// SELECT <c>[context, title]</c> or SELECT_PAGE <c>[context, [title, ...]]</c>, with context
    /// <c>[member_id, country, language, device, hour, day_of_week, genres?, ...]</c>: the member id, and whether the
    /// request carries genre affinities (a non-empty genres array, which <see cref="PayloadReader"/> reads as
    /// <see cref="RequestContext.GenreCount"/> &gt; 0). False when the payload does not start like a request.
    /// </summary>
    public static bool TryReadMember(in ReadOnlySequence<byte> payload, out ulong memberId, out bool hasGenres)
    {
        if (payload.IsSingleSegment && TryReadMemberFixed(payload.FirstSpan, out memberId, out hasGenres))
        {
            return true;
        }

        return TryReadMemberGeneral(payload, out memberId, out hasGenres);
    }

    // The layout FrameWriter writes, at fixed offsets: fixarray(2), the context's fixarray(8), uint64 member, uint16
    // country, uint16 language, uint8 device, uint8 hour, uint8 day, then genres nil or a fixarray with room for its
    // elements. Anything else (another writer's forms, a genres array16, a short payload) is left to the general
    // reader, which gives the same answer on this layout (PayloadPeekTests compare the two on mutated payloads).
    private static bool TryReadMemberFixed(ReadOnlySpan<byte> s, out ulong memberId, out bool hasGenres)
    {
        const int genresMarker = 1 + PayloadReader.FixedContextBytes; // after the outer header and the six fixed fields
        const int genresAt = genresMarker + 1;
        memberId = 0;
        hasGenres = false;
        if (s.Length <= genresAt)
        {
            return false;
        }

        ref byte p = ref MemoryMarshal.GetReference(s);
        if (p != 0x92 || !PayloadReader.IsFixedContextHead(ref Unsafe.Add(ref p, 1)))
        {
            return false;
        }

        // genres: nil, or a fixarray (MessagePackReader refuses a count larger than the bytes left; leave that to it).
        byte genres = Unsafe.Add(ref p, genresMarker);
        if (genres == 0xc0)
        {
            hasGenres = false;
        }
        else if ((genres & 0xf0) == 0x90 && (genres & 0x0f) <= s.Length - genresAt)
        {
            hasGenres = (genres & 0x0f) > 0;
        }
        else
        {
            return false;
        }

        memberId = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, 3)));
        return true;
    }

    private static bool TryReadMemberGeneral(in ReadOnlySequence<byte> payload, out ulong memberId, out bool hasGenres)
    {
        memberId = 0;
        hasGenres = false;
        try
        {
            var reader = new MessagePackReader(payload);
            if (reader.ReadArrayHeader() < 2)
            {
                return false;
            }

            int count = reader.ReadArrayHeader();
            if (count < 6)
            {
                return false;
            }

            memberId = reader.ReadUInt64();
            if (count == 6)
            {
                return true;
            }

            for (int i = 0; i < 5; i++)
            {
                // Scalars only (a locale is an integer or a string): anything else the full reader refuses anyway.
                if (reader.NextMessagePackType is MessagePackType.Array or MessagePackType.Map)
                {
                    return false;
                }

                reader.Skip();
            }

            hasGenres = !reader.TryReadNil() && reader.ReadArrayHeader() > 0;
            return true;
        }
        catch (Exception ex) when (ex is MessagePackSerializationException or EndOfStreamException or OverflowException)
        {
            return false;
        }
    }
}
