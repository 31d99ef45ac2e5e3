using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Selection;

namespace EdgeSelector.Core.Logging;

/// <summary>
/// The impression-page entry (kind 3, version 1): every decision of one request, the member context once, then one
/// fixed-size block per title. A single SELECT is a page of one. Little-endian; every multi-byte field is aligned to
/// its size within the entry (docs/impression-log.md). Written by <see cref="ImpressionPageWriter"/>, read in place by
/// <see cref="ImpressionPageReader"/>.
/// </summary>
/// <remarks>
/// Header (offset: field):
/// <code>
///   0 u8 version (1)    1 u8 kind (3)        2 u16 title count n    4 u16 title stride (40)
///   6 u8 arm            7 u8 member flags    8 u64 first event id  16 i64 timestamp (unix ms)
///  24 u64 member id    32 u16 country       34 u16 language        36 u8 device  37 u8 local hour
///  38 u8 day of week   39 u8 reserved (0)   40 f32[16] genre affinities        104 titles
/// </code>
/// Title i at 104 + i × stride (event id = first event id + i):
/// <code>
///   0 f64 propensity        8 u64 model version     16 u32 title id         20 u32 chosen image id
///  24 f32 policy parameter 28 f32 recommender score 32 u16 chosen index     34 u16 candidate count
///  36 u8 fallback reason   37 u8 policy kind       38 u8 interacted before  39 u8 reserved (0)   40 end
/// </code>
/// </remarks>
public static class ImpressionPage
{
    /// <summary>The page kind's layout version: what this code writes and the only one it reads.</summary>
    public const byte Version = 1;

    /// <summary>Bytes before the first title.</summary>
    public const int HeaderSize = 104;

    /// <summary>Bytes of one title in version 1 (the stride this code writes; readers accept a longer stride).</summary>
    public const int TitleSize = 40;

    /// <summary>Most titles one entry holds (the count is a u16).</summary>
    public const int MaxTitles = ushort.MaxValue;

    /// <summary>Encoded size of a page of <paramref name="titleCount"/> titles.</summary>
    public static int SizeOf(int titleCount) => HeaderSize + (titleCount * TitleSize);

    // Header offsets.
    internal const int CountOffset = 2;
    internal const int StrideOffset = 4;
    internal const int ArmOffset = 6;
    internal const int FlagsOffset = 7;
    internal const int FirstEventIdOffset = 8;
    internal const int TimestampOffset = 16;
    internal const int MemberIdOffset = 24;
    internal const int CountryOffset = 32;
    internal const int LanguageOffset = 34;
    internal const int DeviceOffset = 36;
    internal const int HourOffset = 37;
    internal const int DayOffset = 38;
    internal const int GenresOffset = 40;

    // Offsets within a title.
    internal const int PropensityOffset = 0;
    internal const int ModelVersionOffset = 8;
    internal const int TitleIdOffset = 16;
    internal const int ImageIdOffset = 20;
    internal const int PolicyParameterOffset = 24;
    internal const int ScoreOffset = 28;
    internal const int IndexOffset = 32;
    internal const int CandidatesOffset = 34;
    internal const int FallbackOffset = 36;
    internal const int PolicyOffset = 37;
    internal const int InteractedOffset = 38;
}

/// <summary>Where a page's member context came from (byte 7 of a page entry).</summary>
[Flags]
public enum MemberFlags : byte
{
    /// <summary>No stored profile was found (or, in a per-title record, not logged): genres are zero unless the request sent them.</summary>
    None = 0,
    /// <summary>The member's stored profile was found and supplied the genres (and any country, language, device the request left out).</summary>
    ProfileFound = 1,
    /// <summary>The request carried the genre affinities; the stored profile was not read.</summary>
    GenresFromRequest = 2,
}

/// <summary>One title's decision inside a page entry: everything the page does not share.</summary>
public struct TitleDecision
{
    /// <summary>The title whose artwork was chosen.</summary>
    public uint TitleId;

    /// <summary>The image that was served.</summary>
    public uint ChosenImageId;

    /// <summary>Index of the served image in the title's candidate list (the bandit's action).</summary>
    public ushort ChosenIndex;

    /// <summary>How many candidates the title had (0 for a fallback that scored nothing).</summary>
    public ushort CandidateCount;

    /// <summary>Why the default image was served instead, or <see cref="FallbackReason.None"/>.</summary>
    public FallbackReason Fallback;

    /// <summary>Which exploration policy decided.</summary>
    public PolicyKind PolicyKind;

    /// <summary>The policy's parameter: epsilon, temperature or alpha; 0 where it has none.</summary>
    public float PolicyParameter;

    /// <summary>Probability with which the logging policy chose <see cref="ChosenIndex"/> (f64: see <see cref="ImpressionRecord.Propensity"/>).</summary>
    public double Propensity;

    /// <summary>Version of the model that scored the candidates (0 = none).</summary>
    public ulong ModelVersion;

    /// <summary>The recommender's score for the title.</summary>
    public float RecommenderScore;

    /// <summary>Whether the member interacted with this title before.</summary>
    public bool Interacted;

    /// <summary>The decision the engine made for <paramref name="title"/>.</summary>
    public static TitleDecision From(in Decision decision, int candidateCount, in TitleContext title, FallbackReason fallback = FallbackReason.None) => new()
    {
        TitleId = title.TitleId,
        ChosenImageId = decision.ImageId,
        ChosenIndex = (ushort)decision.Index,
        CandidateCount = (ushort)candidateCount,
        Fallback = fallback,
        PolicyKind = decision.Policy,
        PolicyParameter = decision.PolicyParameter,
        Propensity = decision.Propensity,
        ModelVersion = decision.ModelVersion,
        RecommenderScore = title.RecommenderScore,
        Interacted = title.Interacted,
    };

    /// <summary>The title part of a per-title record.</summary>
    public static TitleDecision From(in ImpressionRecord record) => new()
    {
        TitleId = record.TitleId,
        ChosenImageId = record.ChosenImageId,
        ChosenIndex = record.ChosenIndex,
        CandidateCount = record.CandidateCount,
        Fallback = record.Fallback,
        PolicyKind = record.PolicyKind,
        PolicyParameter = record.PolicyParameter,
        Propensity = record.Propensity,
        ModelVersion = record.ModelVersion,
        RecommenderScore = record.RecommenderScore,
        Interacted = record.InteractedBefore != 0,
    };
}
