using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Internal;
using FASTER.core;

namespace EdgeSelector.Storage.Impressions;

/// <summary>
/// Reads the committed entries of an <see cref="ImpressionLog"/> directory that another instance (normally the
/// server, possibly another process) is writing: FasterLog's read-only mode recovers the writer's latest commit
/// record and scans up to it. Nothing is written into the directory; the reader keeps no position of its own:
/// callers (the trainer) persist the address to resume from. See docs/learning.md ("Reading the server's logs").
/// A damaged log (no readable commit record while segments hold entries, a missing or short segment, an entry that
/// fails its checksum) throws <see cref="LogDamagedException"/> naming the file and address, at open or while reading.
/// </summary>
public sealed class ImpressionLogSnapshotReader : IDisposable
{
    private readonly IDevice _device;
    private readonly FasterLog _log;
    private readonly string _root;
    private readonly long _segmentBytes;

    private ImpressionLogSnapshotReader(string directory, long pageBytes, long memoryBytes, long segmentBytes)
    {
        string root = Path.GetFullPath(directory);
        if (!Directory.Exists(ImpressionLogFiles.CommitDirectory(root)))
        {
            throw new DirectoryNotFoundException($"{root}: no impression log (missing commits/)");
        }

        _root = root;
        _segmentBytes = segmentBytes;
        var checksum = ImpressionLogFiles.ReadOrCreateFormat(root, create: false, out var formatProblem);
        if (formatProblem is not null)
        {
            throw new LogDamagedException(root, -1, formatProblem);
        }

        var health = new DeviceHealth(Path.GetFileName(root));
        _device = ImpressionLogFiles.OpenDevice(root, health);
        try
        {
            using var settings = new FasterLogSettings
            {
                LogDevice = _device,
                MemorySize = memoryBytes,
                PageSize = pageBytes,
                SegmentSize = segmentBytes,
                LogCommitManager = ImpressionLogFiles.CommitManager(root, health, readOnly: true),
                LogChecksum = checksum,
                ReadOnlyMode = true,
            };
            _log = new FasterLog(settings);
            _log.RecoverReadOnly();

            // The tail was verified by the writer at its start; here only the structure, the entries are checked as read.
            var damage = ImpressionLogFiles.Check(root, _log, BeginAddress, segmentBytes);
            if (damage is not null)
            {
                throw damage;
            }
        }
        catch (FasterException e)
        {
            _log?.Dispose();
            _device.Dispose();
            throw new LogDamagedException(root, -1, $"{root}: the log cannot be recovered ({e.Message})", e);
        }
        catch
        {
            _log?.Dispose();
            _device.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens a read-only view of the log in <paramref name="directory"/> as of its latest commit. The page and segment
    /// sizes must be the writer's (the server's defaults unless configured otherwise).
    /// </summary>
    public static ImpressionLogSnapshotReader Open(string directory, long pageBytes = 1L << 20, long segmentBytes = 256L << 20)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        long page = Sizes.FloorPow2(pageBytes, nameof(pageBytes));
        return new ImpressionLogSnapshotReader(directory, page, 4 * page, Sizes.FloorPow2(segmentBytes, nameof(segmentBytes)));
    }

    /// <summary>
    /// Address of the first entry still in the log. FasterLog's read-only recovery does not restore the writer's
    /// begin address after truncation (it stays at the first page), so the first segment file still on disk bounds it:
    /// the writer only ever deletes whole segments below its begin address, and a segment boundary is an entry boundary.
    /// With no segment file at all (a log restarted above a damaged one, nothing appended yet) the log is empty.
    /// </summary>
    public long BeginAddress => Math.Max(_log.BeginAddress, FirstSegment() is { } first ? first * _segmentBytes : _log.CommittedUntilAddress);

    /// <summary>Every entry below this address was committed when the view was opened (or last refreshed).</summary>
    public long CommittedUntilAddress => _log.CommittedUntilAddress;

    /// <summary>Moves the view to the writer's latest commit.</summary>
    public void Refresh() => _log.RecoverReadOnly();

    /// <summary>
    /// Hands every committed entry from <paramref name="fromAddress"/> (an entry boundary from a previous read, or 0
    /// for the beginning) to <paramref name="consumer"/>; returns the address to resume from next time. Throws
    /// <see cref="LogDamagedException"/> at the first damaged entry (entries before it were handed over).
    /// </summary>
    public long ReadFrom<TConsumer>(long fromAddress, TConsumer consumer)
        where TConsumer : IImpressionConsumer
    {
        var next = Math.Max(fromAddress, BeginAddress);
        var end = _log.CommittedUntilAddress;
        var adapter = new Adapter<TConsumer>(consumer);
        for (var attempt = 0; next < end; attempt++)
        {
            try
            {
                using var iterator = _log.Scan(next, end, name: null, recover: false, scanUncommitted: false);
                while (iterator.TryConsumeNext(adapter))
                {
                    next = iterator.NextAddress;
                }

                return Math.Max(next, iterator.NextAddress);
            }
            catch (FasterException) when (attempt < 3 && BeginAddress > next)
            {
                // The writer rotated the segment we were reading away: what it dropped is gone; go on from its new head.
                next = BeginAddress;
            }
            catch (FasterException e)
            {
                var path = ImpressionLogFiles.SegmentPath(_root, next / _segmentBytes);
                throw new LogDamagedException(path, next, $"{path}: the entry at address {next} cannot be read ({e.Message}); entries before it were read", e);
            }
        }

        return next;
    }

    /// <summary>
    /// The first segment of the run of segment files that reaches the committed tail. The writer deletes rotated
    /// segments in the background, not necessarily in order, so files below a gap are leftovers awaiting deletion.
    /// </summary>
    private long? FirstSegment()
    {
        var present = ImpressionLogFiles.SegmentFiles(_root).Select(s => s.Index).ToHashSet();
        if (present.Count == 0)
        {
            return null;
        }

        long first = Math.Max(0, _log.CommittedUntilAddress - 1) / _segmentBytes;
        if (!present.Contains(first))
        {
            return present.Min();
        }

        while (first > 0 && present.Contains(first - 1))
        {
            first--;
        }

        return first;
    }

    /// <summary>Closes the view (the writer's files are untouched).</summary>
    public void Dispose()
    {
        _log.Dispose();
        _device.Dispose();
    }

    private readonly struct Adapter<TConsumer>(TConsumer consumer) : ILogEntryConsumer
        where TConsumer : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> entry, long currentAddress, long nextAddress) =>
            consumer.Consume(entry, currentAddress, nextAddress);
    }
}
