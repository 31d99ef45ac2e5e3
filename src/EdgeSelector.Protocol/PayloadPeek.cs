using System.Buffers;
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
