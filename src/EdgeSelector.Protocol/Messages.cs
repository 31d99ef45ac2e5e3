using System.Runtime.CompilerServices;

namespace EdgeSelector.Protocol;

/// <summary>Sixteen genre affinities stored inline, so a parsed request owns them without an array.</summary>
[InlineArray(FeatureSchema.GenreCount)]
public struct GenreAffinities
{
    private float _element0;
}

/// <summary>Who is asking, from where and when: shared by SELECT and SELECT_PAGE (docs/protocol.md#context).</summary>
public struct RequestContext
{
    /// <summary>The member the artwork is chosen for.</summary>
    public ulong MemberId;

    /// <summary>Country, packed by <see cref="CountryCode.Pack"/>; 0 = unknown.</summary>
    public ushort Country;

    /// <summary>Language, packed by <see cref="CountryCode.Pack"/>; 0 = unknown.</summary>
    public ushort Language;

    /// <summary>Device class; values this build does not define are passed through for the server to treat as unknown.</summary>
    public DeviceClass Device;

    /// <summary>Member's local hour of day, 0-23.</summary>
    public byte HourOfDay;

    /// <summary>Member's local day of week, 0-6 (0 = Sunday).</summary>
    public byte DayOfWeek;

    /// <summary>How many of <see cref="Genres"/> were sent; 0 = absent, use the stored profile.</summary>
    public byte GenreCount;

    /// <summary>Genre affinities; only the first <see cref="GenreCount"/> are meaningful.</summary>
    public GenreAffinities Genres;

    /// <summary>Request time, Unix milliseconds; 0 = absent, use the server clock.</summary>
    public long TimestampUnixMs;

    /// <summary>The genre affinities that were sent (empty when absent).</summary>
    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    public ReadOnlySpan<float> GenreSpan => ((ReadOnlySpan<float>)Genres)[..GenreCount];

    /// <summary>Copies up to 16 affinities into <see cref="Genres"/> and sets <see cref="GenreCount"/>.</summary>
    public void SetGenres(ReadOnlySpan<float> affinities)
    {
        if (affinities.Length > FeatureSchema.GenreCount)
        {
            throw new ArgumentOutOfRangeException(nameof(affinities), affinities.Length, "at most 16 genre affinities");
        }

        affinities.CopyTo(Genres);
        GenreCount = (byte)affinities.Length;
    }
}

/// <summary>One candidate title of a request: the recommender already chose it, the server picks its image.</summary>
public record struct TitleCandidate(uint TitleId, float Score, bool InteractedBefore);

/// <summary>The image chosen for one title (docs/protocol.md#select-result).</summary>
public record struct SelectResult(
    uint TitleId,
    uint ImageId,
    ulong EventId,
    float Propensity,
    ulong ModelVersion,
    FallbackReason Reason)
{
    /// <summary>Image id meaning "no artwork known, not even a default": the caller shows its own placeholder.</summary>
    public const uint NoArtwork = 0;
}

/// <summary>What the member did after an impression (docs/protocol.md#reward).</summary>
public record struct RewardRequest(
    ulong EventId,
    bool PlayStarted,
    float MinutesWatched,
    float FractionCompleted,
    long TimestampUnixMs = 0);

/// <summary>How the server took a reward.</summary>
public enum RewardStatus : byte
{
    /// <summary>Joined to its impression and recorded.</summary>
    Accepted = 0,
    /// <summary>A reward for this event was already recorded; this one was ignored.</summary>
    Duplicate = 1,
    /// <summary>No impression with this event id is known (never logged, or expired).</summary>
    UnknownEvent = 2,
}
