using System.Globalization;

namespace EdgeSelector.Cli.Infrastructure;

/// <summary>
/// Versions of the bundles edgesel writes: the UTC time as a number, <c>yyyyMMddHHmmss</c> (20261202143005), or the
/// newest bundle of the directory + 1 when that is larger. A node accepts only a version newer than the one it
/// serves (unless forced), so time-based versions make a bundle built in a fresh directory — or on another machine —
/// newer than anything built before it: the demo's bundle 1 and a fleet's earlier bundles alike (docs/cli.md).
/// </summary>
internal static class BundleVersions
{
    /// <summary>The version of the next bundle after <paramref name="newest"/>, at <paramref name="now"/>.</summary>
    public static ulong Next(ulong newest, DateTimeOffset now)
    {
        var clock = ulong.Parse(now.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        return Math.Max(newest + 1, clock);
    }
}
