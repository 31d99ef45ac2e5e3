using EdgeSelector.Storage.Internal;
using FASTER.core;

namespace EdgeSelector.Storage.Impressions;

/// <summary>
/// Append-only durable log of opaque impression records on FasterLog, with group commit: appends return at once,
/// a background committer makes them durable every <see cref="ImpressionLogOptions.CommitInterval"/> (or sooner
/// when <see cref="ImpressionLogOptions.CommitBytes"/> are pending). See docs/storage.md for the guarantee.
/// </summary>
public sealed partial class ImpressionLog : IDisposable
{
    private readonly IDevice _device;
    private readonly FasterLog _log;
    private readonly long _commitBytes;
    private readonly long _retainBytes;
    private readonly long _segmentBytes;
    private readonly long _pageBytes;
    private readonly TimeSpan _commitInterval;
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
        _commitInterval = options.CommitInterval;
        MaxRecordBytes = (int)Math.Min(int.MaxValue, pageBytes - 64);

        string root = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(ImpressionLogFiles.SegmentDirectory(root));
        _device = ImpressionLogFiles.OpenDevice(root);
        try
        {
            using var settings = new FasterLogSettings
            {
                LogDevice = _device,
                MemorySize = memoryBytes,
                PageSize = pageBytes,
                SegmentSize = segmentBytes,
                LogCommitDir = ImpressionLogFiles.CommitDirectory(root),
                RemoveOutdatedCommits = true,
                TryRecoverLatest = true,
            };
            _log = new FasterLog(settings);
        }
        catch
        {
            _device.Dispose();
            throw;
        }

        _committer = Task.Run(CommitLoopAsync);
    }

    /// <summary>Opens the log in <see cref="ImpressionLogOptions.DataDirectory"/>, recovering everything committed before.</summary>
    public static ImpressionLog Open(ImpressionLogOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ImpressionLog(options);
    }

    /// <summary>The largest record <see cref="TryEnqueue"/> accepts.</summary>
    public int MaxRecordBytes { get; }

    /// <summary>Address of the first entry still in the log (moves up with truncation).</summary>
    public long BeginAddress => _log.BeginAddress;

    /// <summary>Address the next entry will get.</summary>
    public long TailAddress => _log.TailAddress;

    /// <summary>Every entry whose address is below this is durable (survives a crash).</summary>
    public long CommittedUntilAddress => _log.CommittedUntilAddress;

    /// <summary>The exception that stopped the background committer, if any (health checks should alarm on it).</summary>
    public Exception? CommitFailure { get; private set; }

    /// <summary>
    /// Appends a record without waiting for disk; no allocation. False if the record is too big or the in-memory
    /// buffer is full (the disk is behind): the caller decides whether to drop or retry.
    /// </summary>
    public bool TryEnqueue(ReadOnlySpan<byte> record, out long address)
    {
        if (record.Length > MaxRecordBytes || !_log.TryEnqueue(record, out address))
        {
            address = 0;
            return false;
        }

        // Group commit by size: wake the committer early, at most one wake-up in flight.
        if (address - _log.CommittedUntilAddress >= _commitBytes
            && Volatile.Read(ref _wakePending) == 0
            && Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            _wake.Release();
        }

        return true;
    }

    /// <summary>True once the entry at <paramref name="address"/> is durable.</summary>
    public bool IsCommitted(long address) => _log.CommittedUntilAddress > address;

    /// <summary>Completes when the entry at <paramref name="address"/> (and everything before it) is durable.</summary>
    public ValueTask WaitForCommitAsync(long address, CancellationToken cancellationToken = default) =>
        IsCommitted(address) ? ValueTask.CompletedTask : _log.WaitForCommitAsync(address + 1, token: cancellationToken);

    /// <summary>Commits everything appended so far now and waits until it is durable (shutdown, tests, tools).</summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _log.CommitAsync().AsTask().GetAwaiter().GetResult();
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
    public ImpressionLogReader OpenReader(string name)
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

            return reader;
        }
    }

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

    /// <summary>Stops the committer, commits what is pending, and closes the log.</summary>
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

        _stop.Cancel();
        try
        {
            _committer.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            // Expected: the loop ends by cancellation.
        }

        if (CommitFailure is null)
        {
            _log.CommitAsync().AsTask().GetAwaiter().GetResult();
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
    }

    /// <summary>Dropped segments so far (rotation by <see cref="ImpressionLogOptions.RetainBytes"/>).</summary>
    public long RotatedSegments { get; private set; }

    // Segment boundaries are page boundaries, and FasterLog never lets an entry cross a page, so the cut is always an
    // entry boundary: a reader resuming at BeginAddress reads whole records.
    private void Rotate()
    {
        if (_retainBytes <= 0)
        {
            return;
        }

        var tail = _log.CommittedUntilAddress;
        var cut = (tail - _retainBytes) / _segmentBytes * _segmentBytes;
        if (cut > _log.BeginAddress)
        {
            RotatedSegments += (cut - _log.BeginAddress + _segmentBytes - 1) / _segmentBytes;
            _log.TruncateUntil(cut);
            MarkIteratorsChanged();
        }
    }

    /// <summary>Reader positions and truncation are persisted by a commit even when no entry is pending.</summary>
    internal void MarkIteratorsChanged() => Volatile.Write(ref _iteratorsChanged, 1);

    private async Task CommitLoopAsync()
    {
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                await _wake.WaitAsync(_commitInterval, token).ConfigureAwait(false);
                Volatile.Write(ref _wakePending, 0);
                bool pending = _log.TailAddress > _log.CommittedUntilAddress;
                if (pending || Interlocked.Exchange(ref _iteratorsChanged, 0) != 0)
                {
                    await _log.CommitAsync(token).ConfigureAwait(false);
                }

                Rotate();
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Dispose.
        }
#pragma warning disable CA1031 // The committer must record, not crash the process; CommitFailure surfaces it.
        catch (Exception e)
#pragma warning restore CA1031
        {
            CommitFailure = e;
        }
    }
}
