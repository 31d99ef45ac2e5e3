using FASTER.core;

namespace EdgeSelector.Storage.Impressions;

/// <summary>
/// Where an impression log lies under its directory (docs/storage.md): the FasterLog segments in <c>log/</c> as
/// <c>impressions.log.N</c>, the commit records in <c>commits/</c>. The writer and the snapshot reader both open it here.
/// </summary>
internal static class ImpressionLogFiles
{
    /// <summary>File name of the log device; its segments are this name plus ".N".</summary>
    public const string DeviceFileName = "impressions.log";

    /// <summary>The directory holding the segments.</summary>
    public static string SegmentDirectory(string root) => Path.Combine(root, "log");

    /// <summary>The directory holding the commit records.</summary>
    public static string CommitDirectory(string root) => Path.Combine(root, "commits");

    /// <summary>Opens the log device over the segments (recovering the existing ones).</summary>
    public static IDevice OpenDevice(string root) =>
        Devices.CreateLogDevice(Path.Combine(SegmentDirectory(root), DeviceFileName), preallocateFile: false, deleteOnClose: false, recoverDevice: true);
}
