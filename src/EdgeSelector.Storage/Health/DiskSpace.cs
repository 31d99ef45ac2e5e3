namespace EdgeSelector.Storage.Health;

/// <summary>Free space of the volume holding a path (statvfs through <see cref="DriveInfo"/>).</summary>
public static class DiskSpace
{
    /// <summary>Below this many free bytes a failed write is reported as "no space left".</summary>
    public const long FullThresholdBytes = 4L << 20;

    /// <summary>Bytes available to this process on the volume of <paramref name="path"/> (or its nearest existing parent); null if unknown.</summary>
    public static long? AvailableBytes(string path)
    {
        try
        {
            var existing = Path.GetFullPath(path);
            while (!Directory.Exists(existing))
            {
                var parent = Path.GetDirectoryName(existing);
                if (parent is null || parent == existing)
                {
                    return null;
                }

                existing = parent;
            }

            return new DriveInfo(existing).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }
}
