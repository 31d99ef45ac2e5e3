using EdgeSelector.Core.Features;
using EdgeSelector.Learning.Evaluation.Estimators;

namespace EdgeSelector.Learning.Evaluation;

/// <summary>
/// A segment of logged impressions that <c>edgesel evaluate --by-segment</c> and <c>edgesel report</c> estimate on their
/// own: interacted with the title before or not, the device, the country. Its value within a segment is the target
/// policy's expected reward over that segment's rows (the same estimators, on the rows of the segment only), so an
/// interval is as wide as the segment is small. A value type, so a row's segments cost no allocation.
/// </summary>
public readonly record struct Segment(int Kind, int Code) : IComparable<Segment>
{
    /// <summary>How many segments a row belongs to (one per dimension).</summary>
    public const int DimensionCount = 3;

    private const int Interacted = 0;
    private const int Device = 1;
    private const int Country = 2;

    /// <summary>The dimension's name: "interacted", "device" or "country".</summary>
    public string Dimension => Kind switch
    {
        Interacted => "interacted",
        Device => "device",
        _ => "country",
    };

    /// <summary>The value: "yes"/"no", a device class in lower case, a two-letter country ("unknown" when unset).</summary>
    public string Value => Kind switch
    {
        Interacted => Code != 0 ? "yes" : "no",
        Device => ((DeviceClass)Code).ToString().ToLowerInvariant(),
        _ => Code == 0 ? "unknown" : CountryCode.Unpack((ushort)Code),
    };

    /// <summary>Adds the segments of an impression row to <paramref name="keys"/> (none for a row without one).</summary>
    public static void Of(LoggedSample sample, List<Segment> keys)
    {
        if (sample.Impression is not { } impression)
        {
            return;
        }

        keys.Add(new Segment(Interacted, impression.InteractedBefore != 0 ? 1 : 0));
        keys.Add(new Segment(Device, (int)impression.Device));
        keys.Add(new Segment(Country, impression.Country));
    }

    /// <summary>True when a request with these contexts belongs to the segment (what a simulator's exact values filter by).</summary>
    public bool Contains(in MemberContext member, in TitleContext title) => Kind switch
    {
        Interacted => title.Interacted == (Code != 0),
        Device => (int)member.Device == Code,
        _ => member.Country == Code,
    };

    /// <inheritdoc />
    public int CompareTo(Segment other) => Kind != other.Kind ? Kind.CompareTo(other.Kind) : Code.CompareTo(other.Code);

    /// <inheritdoc />
    public override string ToString() => $"{Dimension}={Value}";
}

/// <summary>The estimates within one segment.</summary>
/// <param name="Key">The segment.</param>
/// <param name="Rows">Logged rows in the segment.</param>
/// <param name="Results">One result per estimator, as for the whole log, on the segment's rows only.</param>
public sealed record SegmentReport(Segment Key, long Rows, IReadOnlyList<EstimateResult> Results)
{
    /// <summary>interacted, device or country.</summary>
    public string Dimension => Key.Dimension;

    /// <summary>The segment's value (yes/no, a device, a country).</summary>
    public string Value => Key.Value;
}
