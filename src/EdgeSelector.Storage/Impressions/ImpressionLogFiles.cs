using System.Globalization;
using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Internal;
using FASTER.core;

namespace EdgeSelector.Storage.Impressions;

/// <summary>
/// Where an impression (or reward) log lies under its directory (docs/storage.md): the FasterLog segments in
/// <c>log/</c> as <c>impressions.log.N</c>, the commit records in <c>commits/</c>, and <c>format</c>, which says
/// whether entries carry FasterLog's per-entry checksum (logs created by this version do; older logs do not). The
/// writer and the snapshot reader both open it here, and both check it (<see cref="Check"/>).
/// </summary>
internal static class ImpressionLogFiles
{
    /// <summary>File name of the log device; its segments are this name plus ".N".</summary>
    public const string DeviceFileName = "impressions.log";

    /// <summary>The format marker's file name.</summary>
    public const string FormatFileName = "format";

    /// <summary>How much of the committed tail is read back at open to verify entry checksums.</summary>
    public const long TailVerifyBytes = 16L << 20;

    private const string PerEntry = "checksum=per-entry";
    private const string NoChecksum = "checksum=none";

    /// <summary>The directory holding the segments.</summary>
    public static string SegmentDirectory(string root) => Path.Combine(root, "log");

    /// <summary>The directory holding the commit records.</summary>
    public static string CommitDirectory(string root) => Path.Combine(root, "commits");

    /// <summary>The path of segment <paramref name="segment"/>.</summary>
    public static string SegmentPath(string root, long segment) =>
        Path.Combine(SegmentDirectory(root), DeviceFileName + "." + segment.ToString(CultureInfo.InvariantCulture));

    /// <summary>Opens the log device over the segments (recovering the existing ones); writes retry on failure.</summary>
    public static IDevice OpenDevice(string root, DeviceHealth health) =>
        new ResilientDevice(
            Devices.CreateLogDevice(Path.Combine(SegmentDirectory(root), DeviceFileName), preallocateFile: false, deleteOnClose: false, recoverDevice: true),
            health);

    /// <summary>The commit-record manager FasterLog would build from <c>LogCommitDir</c>, over retrying devices.</summary>
    public static DeviceLogCommitCheckpointManager CommitManager(string root, DeviceHealth health, bool readOnly) =>
        new(new ResilientDeviceFactory(health), new DefaultCheckpointNamingScheme(CommitDirectory(root)), removeOutdated: !readOnly);

    /// <summary>
    /// The checksum mode of the log in <paramref name="root"/>, from its marker, kept twice (<c>format</c> and
    /// <c>commits/format</c>) so that one damaged or deleted copy is repaired from the other. A new log gets per-entry
    /// checksums; a log that holds segments or commits but no marker at all was written by an older version, without
    /// checksums. <paramref name="problem"/> is set (and the mode is meaningless) when the markers are damaged beyond that.
    /// </summary>
    public static LogChecksumType ReadOrCreateFormat(string root, bool create, out string? problem) =>
        ReadOrCreateFormat(root, create, out problem, out _);

    /// <inheritdoc cref="ReadOrCreateFormat(string, bool, out string?)"/>
    /// <param name="root">The log's directory.</param>
    /// <param name="create">Write the markers (the writer); false for a read-only view.</param>
    /// <param name="problem">Set when the markers are damaged beyond repair.</param>
    /// <param name="repaired">Set when one marker copy was rewritten from the other.</param>
    public static LogChecksumType ReadOrCreateFormat(string root, bool create, out string? problem, out string? repaired)
    {
        problem = null;
        repaired = null;
        string[] markers = [Path.Combine(root, FormatFileName), Path.Combine(CommitDirectory(root), FormatFileName)];
        var found = new List<LogChecksumType>();
        var damaged = new List<string>();
        foreach (var marker in markers)
        {
            if (!File.Exists(marker))
            {
                continue;
            }

            switch (File.ReadAllText(marker).Trim())
            {
                case PerEntry:
                    found.Add(LogChecksumType.PerEntry);
                    break;
                case NoChecksum:
                    found.Add(LogChecksumType.None);
                    break;
                default:
                    damaged.Add(marker);
                    break;
            }
        }

        LogChecksumType mode;
        if (found.Count > 0)
        {
            if (found.Distinct().Count() > 1)
            {
                problem = $"{markers[0]} and {markers[1]} disagree about the log's format";
                return LogChecksumType.None;
            }

            mode = found[0];
        }
        else if (damaged.Count > 0)
        {
            problem = $"{damaged[0]}: the log format marker is unreadable";
            return LogChecksumType.None;
        }
        else
        {
            bool existing = HasSegmentData(root) || (Directory.Exists(CommitDirectory(root)) && Directory.EnumerateFiles(CommitDirectory(root), "*", SearchOption.AllDirectories).Any());
            mode = existing ? LogChecksumType.None : LogChecksumType.PerEntry;
        }

        if (create)
        {
            foreach (var marker in markers)
            {
                if (WriteMarker(marker, mode) && found.Count > 0)
                {
                    repaired = $"{marker} was missing or damaged and was rewritten from its copy";
                }
            }
        }

        return mode;
    }

    /// <summary>Writes a marker unless it already says <paramref name="mode"/>; true if it had to be written.</summary>
    private static bool WriteMarker(string marker, LogChecksumType mode)
    {
        var text = (mode == LogChecksumType.PerEntry ? PerEntry : NoChecksum) + "\n";
        if (File.Exists(marker) && File.ReadAllText(marker) == text)
        {
            return false;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(marker)!);
        var temp = marker + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, marker, overwrite: true);
        return true;
    }

    /// <summary>True if any segment file holds bytes.</summary>
    public static bool HasSegmentData(string root) => SegmentFiles(root).Any(s => s.Length > 0);

    /// <summary>The segment files, by index.</summary>
    public static IEnumerable<(long Index, long Length, string Path)> SegmentFiles(string root)
    {
        var directory = SegmentDirectory(root);
        if (!Directory.Exists(directory))
        {
            yield break;
        }

        foreach (var file in Directory.EnumerateFiles(directory, DeviceFileName + ".*"))
        {
            var suffix = Path.GetExtension(file).TrimStart('.');
            if (long.TryParse(suffix, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                yield return (index, new FileInfo(file).Length, file);
            }
        }
    }

    /// <summary>
    /// Checks a recovered log against its files; null if consistent, else what is damaged (a person's sentence naming
    /// the file). Damage found: no commit record could be recovered although segments hold entries; a segment of the
    /// committed range is missing or shorter than the commit says. (Entry checksums are verified as entries are read
    /// from disk: by the writer's tail check at open and by every snapshot read.)
    /// </summary>
    public static LogDamagedException? Check(string root, FasterLog log, long begin, long segmentBytes)
    {
        long committed = log.CommittedUntilAddress;
        var commits = CommitDirectory(root);
        if (committed <= FirstAddress && log.BeginAddress <= FirstAddress && HasSegmentData(root))
        {
            var bytes = SegmentFiles(root).Sum(s => s.Length);
            return new LogDamagedException(
                commits,
                -1,
                $"{commits}: no readable commit record, but the segments in {SegmentDirectory(root)} hold {bytes} bytes: the commit record is missing or damaged, so none of those entries can be trusted");
        }

        for (long segment = begin / segmentBytes; committed > begin && segment <= (committed - 1) / segmentBytes; segment++)
        {
            long start = segment * segmentBytes;
            long need = Math.Min(start + segmentBytes, committed) - start;
            var path = SegmentPath(root, segment);
            long length = File.Exists(path) ? new FileInfo(path).Length : -1;
            if (length < need)
            {
                return new LogDamagedException(
                    path,
                    Math.Max(begin, start + Math.Max(0, length)),
                    length < 0
                        ? $"{path}: missing; the commit record says it holds committed entries from address {Math.Max(begin, start)} to {start + need}"
                        : $"{path}: {length} bytes, but the commit record says it holds committed entries up to byte {need} (address {start + need})");
            }
        }

        return null;
    }

    /// <summary>The address of the first entry of a new FasterLog.</summary>
    public const long FirstAddress = 64;

}
