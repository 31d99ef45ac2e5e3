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

/// <summary>The image chosen for one title (docs/protocol.md#select_result).</summary>
/// <param name="TitleId">The title this answers.</param>
/// <param name="ImageId">The image to show; <see cref="NoArtwork"/> when none is known.</param>
/// <param name="EventId">Identifies the impression; send it back with the reward.</param>
/// <param name="Propensity">Probability with which the image was chosen.</param>
/// <param name="ModelVersion">Version of the model that chose (0 = none).</param>
/// <param name="Reason">Why the default image was served, or <see cref="FallbackReason.None"/>.</param>
/// <param name="EventTag">The server's tag of <paramref name="EventId"/>; send it back with the reward (0 from a server that predates tags).</param>
public record struct SelectResult(
    uint TitleId,
    uint ImageId,
    ulong EventId,
    float Propensity,
    ulong ModelVersion,
    FallbackReason Reason,
    ulong EventTag = 0)
{
    /// <summary>Image id meaning "no artwork known, not even a default": the caller shows its own placeholder.</summary>
    public const uint NoArtwork = 0;
}

/// <summary>What the member did after an impression (docs/protocol.md#reward).</summary>
/// <param name="EventId">The impression's event id, from its <see cref="SelectResult"/>.</param>
/// <param name="PlayStarted">Playback started.</param>
/// <param name="MinutesWatched">Minutes watched.</param>
/// <param name="FractionCompleted">Fraction of the title completed, [0, 1].</param>
/// <param name="TimestampUnixMs">When the outcome was observed, Unix milliseconds; 0 = the server's clock.</param>
/// <param name="EventTag">The impression's event tag, from its <see cref="SelectResult"/>; without the right tag the reward is refused (<see cref="RewardStatus.Unverified"/>).</param>
public record struct RewardRequest(
    ulong EventId,
    bool PlayStarted,
    float MinutesWatched,
    float FractionCompleted,
    long TimestampUnixMs = 0,
    ulong EventTag = 0)
{
    /// <summary>The reward for the impression <paramref name="impression"/> answered: its event id and tag.</summary>
    public static RewardRequest For(in SelectResult impression, bool playStarted, float minutesWatched, float fractionCompleted, long timestampUnixMs = 0) =>
        new(impression.EventId, playStarted, minutesWatched, fractionCompleted, timestampUnixMs, impression.EventTag);

    /// <summary>
    /// True when <paramref name="minutesWatched"/> is a finite number ≥ 0 and <paramref name="fractionCompleted"/> is in
    /// [0, 1] (docs/protocol.md, REWARD: anything else is answered <c>InvalidField</c>, nothing recorded).
    /// </summary>
    public static bool ValuesInRange(float minutesWatched, float fractionCompleted) =>
        minutesWatched >= 0 && float.IsFinite(minutesWatched) && fractionCompleted is >= 0 and <= 1;
}

/// <summary>How the server took a reward.</summary>
public enum RewardStatus : byte
{
    /// <summary>Joined to its impression and recorded.</summary>
    Accepted = 0,
    /// <summary>A reward for this event was already recorded; this one was ignored.</summary>
    Duplicate = 1,
    /// <summary>No impression with this event id is known (never logged, or expired).</summary>
    UnknownEvent = 2,
    /// <summary>The event tag is missing or is not the tag of this event id: refused before the duplicate check, nothing recorded.</summary>
    Unverified = 3,
}
