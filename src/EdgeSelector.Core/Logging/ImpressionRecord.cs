using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Selection;

namespace EdgeSelector.Core.Logging;

/// <summary>
/// One title's decision as the server logged it: what was shown, with which probability, and the context needed to
/// rebuild the feature vector exactly. The view every reader works with: a page entry (<see cref="ImpressionPageReader"/>)
/// expands into one per title, and <see cref="ImpressionEntry"/> reads either form.
/// </summary>
/// <remarks>
/// Logs written before the page entry hold one record per title in the fixed 136-byte little-endian layout below
/// (kind 1, version 1; docs/impression-log.md): <see cref="TryReadRecord"/> still reads it, with no allocation, and
/// <see cref="TryWriteRecord"/> still writes it (for tools and tests that produce such logs). Layout (offset: field):
/// <code>
///   0 u8 version (1)        1 u8 kind (1)          2 u8 policy kind      3 u8 fallback reason
///   4 u16 chosen index      6 u16 candidate count  8 u64 event id       16 i64 timestamp (unix ms)
///  24 u64 member id        32 u64 model version   40 f64 propensity     48 u32 title id
///  52 u32 chosen image id  56 f32 policy param    60 f32 recommender score
///  64 u16 country          66 u16 language        68 u8 device  69 u8 local hour  70 u8 day of week
///  71 u8 interacted before 72 f32[16] genre affinities                  136 end
/// </code>
/// </remarks>
public struct ImpressionRecord
{
    /// <summary>The version of the per-title record layout (kind 1): the only one there is.</summary>
    public const byte RecordVersion = 1;

    /// <summary>Encoded size of a per-title record in bytes.</summary>
    public const int RecordSize = 136;

    /// <summary>Caller-assigned unique id that rewards join on.</summary>
    public ulong EventId;

    /// <summary>When the decision was made, Unix milliseconds UTC.</summary>
    public long TimestampMs;

    /// <summary>The member the image was chosen for.</summary>
    public ulong MemberId;

    /// <summary>The title whose artwork was chosen.</summary>
    public uint TitleId;

    /// <summary>The image that was served.</summary>
    public uint ChosenImageId;

    /// <summary>Index of the served image in the title's candidate list (the bandit's action).</summary>
    public ushort ChosenIndex;

    /// <summary>How many candidates the title had.</summary>
    public ushort CandidateCount;

    /// <summary>
    /// Probability with which the logging policy chose <see cref="ChosenIndex"/>. Stored as f64: every off-policy
    /// estimate divides by it; the engine's f32 value converts exactly, and a logging policy that computes in double
    /// keeps its full precision, for 4 bytes more per record (docs/impression-log.md).
    /// </summary>
    public double Propensity;

    /// <summary>Which exploration policy decided.</summary>
    public PolicyKind PolicyKind;

    /// <summary>The policy's parameter: epsilon, temperature or alpha; 0 where it has none.</summary>
    public float PolicyParameter;

    /// <summary>Version of the model that scored the candidates (0 = none).</summary>
    public ulong ModelVersion;

    /// <summary>Why the default image was served instead, or <see cref="FallbackReason.None"/>.</summary>
    public FallbackReason Fallback;

    /// <summary>Country, packed by <see cref="CountryCode.Pack"/>.</summary>
    public ushort Country;

    /// <summary>Language, packed by <see cref="CountryCode.Pack"/>.</summary>
    public ushort Language;

    /// <summary>Device class of the request.</summary>
    public DeviceClass Device;

    /// <summary>Member's local hour, 0-23.</summary>
    public byte LocalHour;

    /// <summary>Member's local day of week, 0 = Sunday.</summary>
    public byte DayOfWeek;

    /// <summary>The recommender's score for the title (row placement signal).</summary>
    public float RecommenderScore;

    /// <summary>1 when the member interacted with this title before, else 0.</summary>
    public byte InteractedBefore;

    /// <summary>The member's genre affinities at decision time.</summary>
    public GenreVector Genres;

    /// <summary>Which bundle served the page: 0 = the only (or control) bundle, 1 = a candidate; 0 in per-title records.</summary>
    public byte Arm;

    /// <summary>Where the member's genres came from; <see cref="MemberFlags.None"/> in per-title records (not logged there).</summary>
    public MemberFlags MemberFlags;

    /// <summary>The record of one engine decision, with the contexts it was made in.</summary>
    public static ImpressionRecord FromDecision(
        ulong eventId, long unixMs, in Decision decision, int candidateCount, in MemberContext member, in TitleContext title,
        FallbackReason fallback = FallbackReason.None) => new()
        {
            EventId = eventId,
            TimestampMs = unixMs,
            MemberId = member.MemberId,
            TitleId = title.TitleId,
            ChosenImageId = decision.ImageId,
            ChosenIndex = (ushort)decision.Index,
            CandidateCount = (ushort)candidateCount,
            Propensity = decision.Propensity,
            PolicyKind = decision.Policy,
            PolicyParameter = decision.PolicyParameter,
            ModelVersion = decision.ModelVersion,
            Fallback = fallback,
            Country = member.Country,
            Language = member.Language,
            Device = member.Device,
            LocalHour = member.LocalHour,
            DayOfWeek = member.DayOfWeek,
            RecommenderScore = title.RecommenderScore,
            InteractedBefore = title.Interacted ? (byte)1 : (byte)0,
            Genres = member.Genres,
        };

    /// <summary>Rebuilds the engine's inputs, so <c>FeatureEncoder.TryEncode</c> reproduces the logged feature vector exactly.</summary>
    public readonly void GetContexts(out MemberContext member, out TitleContext title)
    {
        member = new MemberContext
        {
            MemberId = MemberId,
            Country = Country,
            Language = Language,
            Device = Device,
            LocalHour = LocalHour,
            DayOfWeek = DayOfWeek,
            Genres = Genres,
        };
        title = new TitleContext { TitleId = TitleId, RecommenderScore = RecommenderScore, Interacted = InteractedBefore != 0 };
    }

    /// <summary>
    /// Writes the version-1 per-title record (kind 1) into <paramref name="destination"/>; false (nothing written) when it
    /// is too short. <see cref="Arm"/> and <see cref="MemberFlags"/> have no place in it. The server logs page entries.
    /// </summary>
    public readonly bool TryWriteRecord(Span<byte> destination)
    {
        if (destination.Length < RecordSize)
        {
            return false;
        }

        destination[0] = RecordVersion;
        destination[1] = (byte)LogRecordKind.Impression;
        destination[2] = (byte)PolicyKind;
        destination[3] = (byte)Fallback;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], ChosenIndex);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], CandidateCount);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], EventId);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], TimestampMs);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], MemberId);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[32..], ModelVersion);
        BinaryPrimitives.WriteDoubleLittleEndian(destination[40..], Propensity);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[48..], TitleId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[52..], ChosenImageId);
        BinaryPrimitives.WriteSingleLittleEndian(destination[56..], PolicyParameter);
        BinaryPrimitives.WriteSingleLittleEndian(destination[60..], RecommenderScore);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[64..], Country);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[66..], Language);
        destination[68] = (byte)Device;
        destination[69] = LocalHour;
        destination[70] = DayOfWeek;
        destination[71] = InteractedBefore;
        var genres = destination.Slice(72, MemberProfile.GenreCount * sizeof(float));
        for (var i = 0; i < MemberProfile.GenreCount; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(genres[(i * sizeof(float))..], Genres[i]);
        }

        return true;
    }

    /// <summary>Writes the per-title record; throws when <paramref name="destination"/> is shorter than <see cref="RecordSize"/>.</summary>
    public readonly void WriteRecord(Span<byte> destination)
    {
        if (!TryWriteRecord(destination))
        {
            LogRecordThrow.DestinationTooShort(RecordSize, destination.Length);
        }
    }

    /// <summary>
    /// Reads a version-1 per-title record (kind 1); false when <paramref name="source"/> is shorter than
    /// <see cref="RecordSize"/> or is anything else. Bytes past <see cref="RecordSize"/> are ignored. To read whatever
    /// impression entry a log holds (a page or a per-title record), use <see cref="ImpressionEntry.TryRead"/>.
    /// </summary>
    public static bool TryReadRecord(ReadOnlySpan<byte> source, out ImpressionRecord record)
    {
        if (source.Length < RecordSize || source[0] != RecordVersion || source[1] != (byte)LogRecordKind.Impression)
        {
            record = default;
            return false;
        }

        record = new ImpressionRecord
        {
            PolicyKind = (PolicyKind)source[2],
            Fallback = (FallbackReason)source[3],
            ChosenIndex = BinaryPrimitives.ReadUInt16LittleEndian(source[4..]),
            CandidateCount = BinaryPrimitives.ReadUInt16LittleEndian(source[6..]),
            EventId = BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
            TimestampMs = BinaryPrimitives.ReadInt64LittleEndian(source[16..]),
            MemberId = BinaryPrimitives.ReadUInt64LittleEndian(source[24..]),
            ModelVersion = BinaryPrimitives.ReadUInt64LittleEndian(source[32..]),
            Propensity = BinaryPrimitives.ReadDoubleLittleEndian(source[40..]),
            TitleId = BinaryPrimitives.ReadUInt32LittleEndian(source[48..]),
            ChosenImageId = BinaryPrimitives.ReadUInt32LittleEndian(source[52..]),
            PolicyParameter = BinaryPrimitives.ReadSingleLittleEndian(source[56..]),
            RecommenderScore = BinaryPrimitives.ReadSingleLittleEndian(source[60..]),
            Country = BinaryPrimitives.ReadUInt16LittleEndian(source[64..]),
            Language = BinaryPrimitives.ReadUInt16LittleEndian(source[66..]),
            Device = (DeviceClass)source[68],
            LocalHour = source[69],
            DayOfWeek = source[70],
            InteractedBefore = source[71],
        };
        var genres = source.Slice(72, MemberProfile.GenreCount * sizeof(float));
        for (var i = 0; i < MemberProfile.GenreCount; i++)
        {
            record.Genres[i] = BinaryPrimitives.ReadSingleLittleEndian(genres[(i * sizeof(float))..]);
        }

        return true;
    }
}
