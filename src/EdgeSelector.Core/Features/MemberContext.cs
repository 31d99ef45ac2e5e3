namespace EdgeSelector.Core.Features;

/// <summary>
/// Everything about the member and the moment of a request that the features use. The server fills it from the
/// request and the member's stored profile; the impression log keeps enough of it to rebuild the vector offline.
/// </summary>
public struct MemberContext
{
    /// <summary>Member id (drives stickiness; not a feature in schema 1, see docs/model-format.md).</summary>
    public ulong MemberId;

    /// <summary>Country, packed by <see cref="CountryCode.Pack"/>.</summary>
    public ushort Country;

    /// <summary>Language, packed by <see cref="CountryCode.Pack"/>.</summary>
    public ushort Language;

    /// <summary>Device class of the request.</summary>
    public DeviceClass Device;

    /// <summary>Local hour of day, 0-23.</summary>
    public byte LocalHour;

    /// <summary>Day of week, 0 (Sunday) - 6.</summary>
    public byte DayOfWeek;

    /// <summary>Per-genre affinities from the member's profile (zeros when no profile is known).</summary>
    public GenreVector Genres;
}

/// <summary>What the request says about one title on the page.</summary>
public struct TitleContext
{
    /// <summary>Title id.</summary>
    public uint TitleId;

    /// <summary>The recommender's score for this title for this member, as sent by the caller.</summary>
    public float RecommenderScore;

    /// <summary>Whether the member has interacted with (played, rated, listed) this title before.</summary>
    public bool Interacted;
}
