using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Internal;
using FASTER.core;

namespace EdgeSelector.Storage.Impressions;

/// <summary>
/// Append-only durable log of opaque impression records on FasterLog, with group commit: appends return at once,
/// a background committer makes them durable every <see cref="ImpressionLogOptions.CommitInterval"/> (or sooner
/// when <see cref="ImpressionLogOptions.CommitBytes"/> are pending). See docs/storage.md for the guarantee and
/// docs/reliability.md for what a full disk, a failing disk or damaged files do to it.
/// </summary>
/// <remarks>
/// A write that fails is retried by the device until the disk takes it (<see cref="DeviceHealth"/>): appends go on
/// into memory, commits wait, <see cref="LagBytes"/> grows, and once <see cref="ImpressionLogOptions.MemoryBytes"/>
/// are waiting <see cref="TryEnqueue"/> returns false. When space returns the pending flush and commit complete and the
/// log carries on by itself; nothing committed before is touched.
/// </remarks>
public sealed partial class ImpressionLog : IDisposable
{
    private readonly string _root;
    private readonly long _commitBytes;
    private readonly long _retainBytes;
    private readonly long _segmentBytes;
    private readonly long _pageBytes;
    private readonly long _memoryBytes;
    private readonly TimeSpan _commitInterval;
    private readonly TimeSpan _closeTimeout;
    private IDevice _device = null!;
    private FasterLog _log = null!;
    // No max count: two appenders can both pass the wake-up guard around a committer timeout, and a second Release
    // on a full semaphore would throw on the request path. An extra count only costs the committer one spare loop.
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _committer;
    private readonly Dictionary<string, ImpressionLogReader> _readers = [];
    private int _wakePending;
    private int _iteratorsChanged;
    private bool _disposed;

    private ImpressionLog(ImpressionLogOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DataDirectory);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.CommitInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.CommitBytes, 1);
        long pageBytes = Sizes.FloorPow2(options.PageBytes, nameof(options.PageBytes));
        long memoryBytes = Sizes.FloorPow2(options.MemoryBytes, nameof(options.MemoryBytes));
        long segmentBytes = Sizes.FloorPow2(options.SegmentBytes, nameof(options.SegmentBytes));
        if (memoryBytes < 2 * pageBytes || segmentBytes < pageBytes)
        {
            throw new ArgumentException("MemoryBytes must hold at least two pages and SegmentBytes at least one page.", nameof(options));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(options.RetainBytes);
        _commitBytes = options.CommitBytes;
        _retainBytes = options.RetainBytes;
        _segmentBytes = segmentBytes;
        _pageBytes = pageBytes;
        _memoryBytes = memoryBytes;
        _commitInterval = options.CommitInterval;
        _closeTimeout = options.CloseTimeout;
        MaxRecordBytes = (int)Math.Min(int.MaxValue, pageBytes - 64);
        ArgumentOutOfRangeException.ThrowIfNegative(options.AppendRingBytes);
        if (options.AppendRingBytes > 0)
        {
            long ringBytes = Sizes.FloorPow2(options.AppendRingBytes, nameof(options.AppendRingBytes));
            if (ringBytes > 1L << 30)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.AppendRingBytes, "AppendRingBytes must be at most 1 GiB.");
            }

            _ring = new AppendRing((int)ringBytes);
            _run = new RingRun(pageBytes);
            _wakeDepth = ringBytes / 4;
            MaxRecordBytes = Math.Min(MaxRecordBytes, _ring.MaxRecordBytes);
        }

        _root = Path.GetFullPath(options.DataDirectory);
        Name = options.Name ?? Path.GetFileName(_root.TrimEnd(Path.DirectorySeparatorChar));
        Health = new DeviceHealth(Name, options.Faults);
        OpenReport = OpenChecked(options.OnDamage);
        foreach (var name in options.RetentionReaders)
        {
            OpenReader(name, holdsRetention: true); // before the committer's first rotation
        }

        _committer = Task.Run(CommitLoopAsync);
        _appender = _ring is null ? null : StartAppender(this);
    }

    /// <summary>Opens the log in <see cref="ImpressionLogOptions.DataDirectory"/>, recovering everything committed before.</summary>
    public static ImpressionLog Open(ImpressionLogOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ImpressionLog(options);
    }

    /// <summary>The largest record <see cref="TryEnqueue"/> and <see cref="TryPost"/> accept.</summary>
    public int MaxRecordBytes { get; }

    /// <summary>The log's name in messages and health reports.</summary>
    public string Name { get; }

    /// <summary>The state of the log's files: whether writes are failing (disk full, I/O error) and why.</summary>
    public DeviceHealth Health { get; }

    /// <summary>What the log found when it opened its files (recovered, new, or damaged and moved aside).</summary>
    public StoreOpenReport OpenReport { get; }

    /// <summary>Address of the first entry still in the log (moves up with truncation).</summary>
    public long BeginAddress => _log.BeginAddress;

    /// <summary>Address the next entry will get.</summary>
    public long TailAddress => _log.TailAddress;

    /// <summary>Every entry whose address is below this is durable (survives a crash).</summary>
    public long CommittedUntilAddress => _log.CommittedUntilAddress;

    /// <summary>
    /// Bytes accepted but not yet durable: posted and still in the appender ring, plus appended and not yet committed
    /// (tail minus committed). 0 means everything accepted before the call is durable.
    /// </summary>
    /// <remarks>
    /// The ring is read first: the appender appends a record before it releases it from the ring, so a record that has
    /// left the ring by then is already in the tail read after.
    /// </remarks>
    public long LagBytes
    {
        get
        {
            var ring = RingDepthBytes;
            return ring + Math.Max(0, _log.TailAddress - _log.CommittedUntilAddress);
        }
    }

    /// <summary>
    /// The exception of the last commit attempt if it failed for a reason other than the disk (which stalls instead,
    /// see <see cref="Health"/>); cleared by the next successful commit. Health checks should alarm on it.
    /// </summary>
    public Exception? CommitFailure { get; private set; }

    /// <summary>How long the committer's group commits took (start to durable); <see cref="Commit"/>'s own are not counted.</summary>
    public CommitDurations CommitDurations { get; } = new();

    /// <summary>True when appends are being made durable: no write is failing, the last commit and the last append succeeded.</summary>
    public bool IsHealthy => !Health.IsWriteStalled && CommitFailure is null && AppendFailure is null;

    /// <summary>
    /// Appends a record without waiting for disk; no allocation. False if the record is too big or the in-memory
    /// buffer is full (the disk is behind or failing): the caller decides whether to drop or retry. Never throws.
    /// </summary>
    public bool TryEnqueue(ReadOnlySpan<byte> record, out long address)
    {
        try
        {
            return TryAppend(record, out address);
        }
        catch (FasterException)
        {
            // Only after the device gave up (shutdown): FasterLog then refuses every append.
            address = 0;
            return false;
        }
    }

    // The append itself, on the calling thread (TryEnqueue's callers, or the appender thread for the ring); throws
    // FasterException once the device gave up.
    private bool TryAppend(ReadOnlySpan<byte> record, out long address)
    {
        if (record.Length > MaxRecordBytes || !_log.TryEnqueue(record, out address))
        {
            address = 0;
            return false;
        }

        WakeCommitterIfDue(address);
        return true;
    }

    // Group commit by size: wake the committer early, at most one wake-up in flight.
    private void WakeCommitterIfDue(long address)
    {
        if (address - _log.CommittedUntilAddress >= _commitBytes
            && Volatile.Read(ref _wakePending) == 0
            && Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            _wake.Release();
        }
    }

    /// <summary>True once the entry at <paramref name="address"/> is durable.</summary>
    public bool IsCommitted(long address) => _log.CommittedUntilAddress > address;

    /// <summary>
    /// Completes when the entry at <paramref name="address"/> (and everything before it) is durable. While the disk
    /// fails this waits (the entry is not lost: it is retried); bound it with <paramref name="cancellationToken"/>.
    /// Throws <see cref="CommitFailureException"/> if the log gave up on the disk (shutdown) before the entry was durable.
    /// </summary>
    public ValueTask WaitForCommitAsync(long address, CancellationToken cancellationToken = default) =>
        IsCommitted(address) ? ValueTask.CompletedTask : _log.WaitForCommitAsync(address + 1, token: cancellationToken);

    /// <summary>
    /// Commits everything appended or posted so far now and waits until it is durable (shutdown, tests, tools): the
    /// appender first takes every record posted before the call (<see cref="TryPost"/>).
    /// </summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        DrainRing(Timeout.InfiniteTimeSpan);
        _log.CommitAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>
    /// As <see cref="Commit"/>, but gives up after <paramref name="timeout"/> (<see cref="Timeout.InfiniteTimeSpan"/>:
    /// never) and holds no thread while the ring drains or the disk writes (the dashboard's checkpoint button, through
    /// <c>NodeStores.CheckpointAsync</c>). True if everything appended or posted before the call is durable; false if
    /// that did not happen in time (the commit goes on: the entries are not lost while the disk retries) or FasterLog
    /// gave up on the disk.
    /// </summary>
    public async Task<bool> TryCommitAsync(TimeSpan timeout)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        if (!await DrainRingAsync(timeout).ConfigureAwait(false))
        {
            return false;
        }

        var left = timeout == Timeout.InfiniteTimeSpan
            ? Timeout.InfiniteTimeSpan
            : TimeSpan.FromTicks(Math.Max(0, (timeout - System.Diagnostics.Stopwatch.GetElapsedTime(start)).Ticks));

        // The commit is issued whatever is left; only the wait for it is bounded (as the committer loop, FasterLog's
        // CommitAsync completes once everything up to the tail at the call is durable).
        var commit = _log.CommitAsync().AsTask();
        await commit.WaitAsync(left).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!commit.IsCompleted)
        {
            return false;
        }

        if (commit.Exception?.InnerException is FasterException)
        {
            return false;
        }

        await commit.ConfigureAwait(false); // success, or the failure that is not the disk's
        return true;
    }

    /// <summary>
    /// Opens (or, within this process, returns again) the tail-following reader <paramref name="name"/> of committed
    /// entries. Its acknowledged position is persisted by every commit and restored when the log is reopened after a
    /// restart; within one process a reader continues from where it last read. One consumer per name.
    /// </summary>
    /// <remarks>
    /// FasterLog persists the position of a named iterator only while the iterator is open, so readers stay open
    /// until the log is disposed (after its final commit); <see cref="ImpressionLogReader"/> has no Dispose.
    /// </remarks>
    /// <param name="name">The reader's name (its position is persisted under it).</param>
    /// <param name="holdsRetention">
    /// True: rotation (<see cref="ImpressionLogOptions.RetainBytes"/>) never drops an entry this reader has not
    /// acknowledged; its <see cref="ImpressionLogReader.AcknowledgedUntil"/> is a floor under the cut (the fleet's
    /// shipper: nothing unshipped is rotated away). The log then outgrows RetainBytes while the reader is behind, up to
    /// what the disk holds (docs/reliability.md, "Retention floor").
    /// </param>
    public ImpressionLogReader OpenReader(string name, bool holdsRetention = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        lock (_readers)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_readers.TryGetValue(name, out var reader))
            {
                var iterator = _log.Scan(_log.BeginAddress, long.MaxValue, name, recover: true, scanUncommitted: false);
                reader = new ImpressionLogReader(this, iterator);
                _readers.Add(name, reader);
            }

            reader.HoldsRetention |= holdsRetention;
            return reader;
        }
    }

    /// <summary>
    /// The lowest acknowledged position of the readers that hold retention (<see cref="OpenReader"/>), or
    /// <see cref="long.MaxValue"/> when none does: rotation never cuts above it. An acknowledgement counts once the next
    /// commit has taken it (the position that is also persisted), so the floor is never above what survives a crash.
    /// </summary>
    public long RetentionFloor
    {
        get
        {
            var floor = long.MaxValue;
            lock (_readers)
            {
                foreach (var reader in _readers.Values)
                {
                    if (reader.HoldsRetention)
                    {
                        floor = Math.Min(floor, Math.Max(reader.AcknowledgedUntil, _log.BeginAddress));
                    }
                }
            }

            return floor;
        }
    }

    /// <summary>Bytes the log holds beyond <see cref="ImpressionLogOptions.RetainBytes"/> because a reader's floor holds rotation (0 when none).</summary>
    public long RetentionHeldBytes { get; private set; }

    /// <summary>
    /// Drops entries below <paramref name="address"/>, which must be an entry boundary such as a reader's
    /// <see cref="ImpressionLogReader.AcknowledgedUntil"/>. Segment files wholly below it are deleted after the next commit.
    /// </summary>
    public void TruncateUntil(long address)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _log.TruncateUntil(address);
        MarkIteratorsChanged();
    }

    /// <summary>
    /// Appends what was posted to the ring, stops the committer, commits what is pending, and closes the log. Draining
    /// the ring waits at most <see cref="ImpressionLogOptions.CloseTimeout"/> (what is left then is dropped and counted
    /// in <see cref="AppenderDropped"/>), and the final commit as long (twice if the device must first be told to give
    /// up), so closing is bounded whatever the disk does; entries not durable by then are lost, as in a crash.
    /// </summary>
    public void Dispose()
    {
        lock (_readers)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        StopAppender();
        _stop.Cancel();
        try
        {
            _committer.Wait(_closeTimeout);
        }
        catch (AggregateException)
        {
            // The loop records its failures; cancellation ends it.
        }

        var final = _log.CommitAsync().AsTask();
        if (!WaitQuietly(final, _closeTimeout))
        {
            // The disk is not taking writes: fail them so FasterLog's flush completes and the close can go on.
            Health.Abandon();
            WaitQuietly(final, _closeTimeout);
        }

        lock (_readers)
        {
            foreach (var reader in _readers.Values)
            {
                reader.Close();
            }
        }

        _log.Dispose();
        _device.Dispose();
        _stop.Dispose();
        _wake.Dispose();
        if (_appender is null || !_appender.IsAlive)
        {
            _appenderWake.Dispose();
        }
    }

    /// <summary>Dropped segments so far (rotation by <see cref="ImpressionLogOptions.RetainBytes"/>).</summary>
    public long RotatedSegments { get; private set; }

    /// <summary>Reader positions and truncation are persisted by a commit even when no entry is pending.</summary>
    internal void MarkIteratorsChanged() => Volatile.Write(ref _iteratorsChanged, 1);

    private static bool WaitQuietly(Task task, TimeSpan timeout)
    {
        try
        {
            return task.Wait(timeout);
        }
        catch (AggregateException)
        {
            return true; // completed, with the failure the device reported after giving up
        }
    }

    // Segment boundaries are page boundaries, and FasterLog never lets an entry cross a page, so the cut is always an
    // entry boundary: a reader resuming at BeginAddress reads whole records.
    private void Rotate()
    {
        if (_retainBytes <= 0)
        {
            return;
        }

        var tail = _log.CommittedUntilAddress;
        var wanted = (tail - _retainBytes) / _segmentBytes * _segmentBytes;

        // A floor inside a segment keeps that whole segment: the cut stays a segment (so an entry) boundary.
        var floor = RetentionFloor;
        var cut = Math.Min(wanted, floor == long.MaxValue ? wanted : floor / _segmentBytes * _segmentBytes);
        RetentionHeldBytes = Math.Max(0, wanted - Math.Max(cut, _log.BeginAddress));
        if (cut > _log.BeginAddress)
        {
            RotatedSegments += (cut - _log.BeginAddress + _segmentBytes - 1) / _segmentBytes;
            _log.TruncateUntil(cut);
            MarkIteratorsChanged();
        }
    }

    private async Task CommitLoopAsync()
    {
        var token = _stop.Token;
        var backoff = _commitInterval;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(backoff, token).ConfigureAwait(false);
                Volatile.Write(ref _wakePending, 0);
                bool pending = _log.TailAddress > _log.CommittedUntilAddress;
                if (pending || Interlocked.Exchange(ref _iteratorsChanged, 0) != 0)
                {
                    // While the disk fails this await lasts until the device's retries succeed.
                    var start = System.Diagnostics.Stopwatch.GetTimestamp();
                    await _log.CommitAsync(token).ConfigureAwait(false);
                    CommitDurations.Record(System.Diagnostics.Stopwatch.GetTimestamp() - start);
                }

                CommitFailure = null;
                backoff = _commitInterval;
                Rotate();
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return; // Dispose.
            }
#pragma warning disable CA1031 // The committer must record and retry, never crash the process; CommitFailure surfaces it.
            catch (Exception e)
#pragma warning restore CA1031
            {
                CommitFailure = e;
                backoff = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(1).Ticks, Math.Max(backoff.Ticks * 2, TimeSpan.FromMilliseconds(50).Ticks)));
            }
        }
    }
}
