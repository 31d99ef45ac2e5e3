using System.Buffers.Binary;

namespace EdgeSelector.Core.Logging;

/// <summary>
/// What a member did after an impression, joined to it by <see cref="EventId"/>. Fixed 32-byte little-endian layout
/// (docs/impression-log.md), read and written with no allocation.
/// </summary>
/// <remarks>
/// Layout, version 1 (offset: field):
/// <code>
///   0 u8 version (1)  1 u8 kind (2)  2 u8 play started (0/1)  3 u8 reserved (0)  4 f32 minutes watched
///   8 u64 event id   16 i64 timestamp (unix ms)  24 f32 fraction completed  28 u32 reserved (0)  32 end
/// </code>
/// </remarks>
public struct RewardRecord
{
    /// <summary>The reward kind's layout version: what this code writes and the only one it reads (its own, not shared with other kinds).</summary>
    public const byte Version = 1;

    /// <summary>Encoded size in bytes.</summary>
    public const int Size = 32;

    /// <summary>The impression this reward belongs to.</summary>
    public ulong EventId;

    /// <summary>When the outcome was observed, Unix milliseconds UTC.</summary>
    public long TimestampMs;

    /// <summary>Whether the member started playing the title.</summary>
    public bool PlayStarted;

    /// <summary>Minutes watched in the session that followed.</summary>
    public float MinutesWatched;

    /// <summary>Fraction of the title completed, 0-1.</summary>
    public float FractionCompleted;

    /// <summary>Writes the record into <paramref name="destination"/>; false (nothing written) when it is too short.</summary>
    public readonly bool TryWrite(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            return false;
        }

        destination[0] = Version;
        destination[1] = (byte)LogRecordKind.Reward;
        destination[2] = PlayStarted ? (byte)1 : (byte)0;
        destination[3] = 0;
        BinaryPrimitives.WriteSingleLittleEndian(destination[4..], MinutesWatched);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], EventId);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], TimestampMs);
        BinaryPrimitives.WriteSingleLittleEndian(destination[24..], FractionCompleted);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[28..], 0);
        return true;
    }

    /// <summary>Writes the record; throws when <paramref name="destination"/> is shorter than <see cref="Size"/>.</summary>
    public readonly void Write(Span<byte> destination)
    {
        if (!TryWrite(destination))
        {
            LogRecordThrow.DestinationTooShort(Size, destination.Length);
        }
    }

    /// <summary>Reads a record; false when <paramref name="source"/> is too short or is not a version-1 reward record.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out RewardRecord record)
    {
        if (source.Length < Size || source[0] != Version || source[1] != (byte)LogRecordKind.Reward)
        {
            record = default;
            return false;
        }

        record = new RewardRecord
        {
            PlayStarted = source[2] != 0,
            MinutesWatched = BinaryPrimitives.ReadSingleLittleEndian(source[4..]),
            EventId = BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
            TimestampMs = BinaryPrimitives.ReadInt64LittleEndian(source[16..]),
            FractionCompleted = BinaryPrimitives.ReadSingleLittleEndian(source[24..]),
        };
        return true;
    }
}
