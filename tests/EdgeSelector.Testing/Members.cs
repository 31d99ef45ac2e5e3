using EdgeSelector.Protocol;

namespace EdgeSelector.Testing;

/// <summary>
/// The request context the tests send when the member's traits do not matter (imported with <c>using static</c>, so
/// <c>Member(5)</c> reads as it did where each test class had its own copy).
/// </summary>
internal static class Members
{
    /// <summary>Member <paramref name="id"/> watching on a TV in the US, in English, on a Friday at 21:00.</summary>
    public static RequestContext Member(ulong id) => new()
    {
        MemberId = id,
        Country = CountryCode.Pack("US"),
        Language = CountryCode.Pack("EN"),
        Device = DeviceClass.Tv,
        HourOfDay = 21,
        DayOfWeek = 5,
    };
}
