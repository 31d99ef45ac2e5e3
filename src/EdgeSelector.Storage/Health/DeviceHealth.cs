using System.Diagnostics;
using System.Globalization;

namespace EdgeSelector.Storage.Health;

/// <summary>
/// The state of one store's files on disk, shared by every device the store opens (log segments, checkpoints, commit
/// records). A write that fails (disk full, I/O error) is not reported to FASTER: the device retries it until it
/// succeeds, so the store stalls instead of entering FASTER's permanent failure state, and resumes by itself when space
/// returns (docs/reliability.md). This object says whether writes are stalled, since when, and why.
/// </summary>
public sealed class DeviceHealth
{
    private readonly Lock _lock = new();
    private int _failing;
    private long _failedWrites;
    private long _stalledSinceUnixMs;
    private long _stalledSinceTicks; // the same moment on the monotonic clock: how long the stall lasts
    private string? _lastError;
    private volatile bool _abandoned;

    /// <summary>Creates the health of the store named <paramref name="store"/> (used in messages).</summary>
    public DeviceHealth(string store, StorageFaults? faults = null)
    {
        Store = store;
        Faults = faults;
    }

    /// <summary>The store's name in messages ("models", "profiles", "impressions", "rewards").</summary>
    public string Store { get; }

    /// <summary>Fault injection for tests, or null.</summary>
    public StorageFaults? Faults { get; }

    /// <summary>True while at least one write is failing and being retried.</summary>
    public bool IsWriteStalled => Volatile.Read(ref _failing) > 0;

    /// <summary>When the current stall began (null when no write is failing).</summary>
    public DateTimeOffset? StalledSince
    {
        get
        {
            var ms = Interlocked.Read(ref _stalledSinceUnixMs);
            return IsWriteStalled && ms != 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
        }
    }

    /// <summary>The last write error, for a person ("no space left on /data (4096 bytes free) writing models.log.0").</summary>
    public string? LastError
    {
        get
        {
            lock (_lock)
            {
                return _lastError;
            }
        }
    }

    /// <summary>Write attempts that failed since the store was opened (each retry counts).</summary>
    public long FailedWrites => Interlocked.Read(ref _failedWrites);

    /// <summary>True once <see cref="Abandon"/> was called: failed writes are reported to FASTER at once.</summary>
    public bool IsAbandoned => _abandoned;

    /// <summary>
    /// Stops retrying (shutdown): writes still failing and every later failure complete with their error, so a
    /// shutdown never waits for a disk that will not take the data. What was not durable then is lost, as on a crash.
    /// </summary>
    public void Abandon() => _abandoned = true;

    /// <summary>A one-line description of the current stall, or null when writes succeed.</summary>
    public string? Describe()
    {
        // The duration from the Stopwatch, not the wall clock (StalledSince is the wall-clock moment, for people): a
        // clock step must not stretch or shrink it.
        var stalledAt = Interlocked.Read(ref _stalledSinceTicks);
        if (StalledSince is null || stalledAt == 0)
        {
            return null;
        }

        var seconds = Stopwatch.GetElapsedTime(stalledAt).TotalSeconds.ToString("F0", CultureInfo.InvariantCulture);
        return $"{Store}: writes failing for {seconds} s, retrying: {LastError}";
    }

    internal void WriteFailed(string fileName, uint errorCode)
    {
        Interlocked.Increment(ref _failedWrites);
        var error = DescribeError(fileName, errorCode);
        lock (_lock)
        {
            _lastError = error;
        }
    }

    internal void StallBegins()
    {
        if (Interlocked.Increment(ref _failing) == 1)
        {
            Interlocked.Exchange(ref _stalledSinceTicks, Stopwatch.GetTimestamp());
            Interlocked.Exchange(ref _stalledSinceUnixMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        }
    }

    internal void StallEnds()
    {
        if (Interlocked.Decrement(ref _failing) == 0)
        {
            Interlocked.Exchange(ref _stalledSinceUnixMs, 0);
            Interlocked.Exchange(ref _stalledSinceTicks, 0);
        }
    }

    private static string DescribeError(string fileName, uint errorCode)
    {
        // FASTER's managed device reports every failure as one code; the free space tells a full disk from the rest.
        var directory = Path.GetDirectoryName(fileName) ?? ".";
        var free = DiskSpace.AvailableBytes(directory);
        var name = Path.GetFileName(fileName);
        return free is { } bytes && bytes < DiskSpace.FullThresholdBytes
            ? $"no space left on the data volume ({bytes} bytes free) writing {name}"
            : $"write error {errorCode} on {name} ({(free is { } f ? f.ToString(CultureInfo.InvariantCulture) : "unknown")} bytes free)";
    }
}
