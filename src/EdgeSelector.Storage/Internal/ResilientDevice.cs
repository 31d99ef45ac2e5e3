using EdgeSelector.Storage.Health;
using FASTER.core;

namespace EdgeSelector.Storage.Internal;

/// <summary>
/// Wraps a FASTER device so that a failed write (disk full, I/O error) is retried until it succeeds instead of being
/// reported to FASTER. FASTER treats a write error as permanent: FasterLog refuses every later append
/// (CommitFailureException from TryEnqueue), and a FasterKV checkpoint whose flush failed never completes, even after
/// space is freed (measured: docs/reliability.md). Retrying turns both into a stall that ends by itself when the disk
/// takes the write again. <see cref="DeviceHealth"/> reports the stall; <see cref="DeviceHealth.Abandon"/> (shutdown)
/// hands the errors to FASTER so nothing waits for a disk that will not recover.
/// </summary>
/// <remarks>
/// Retrying with the same source pointer is safe: FASTER keeps the source buffer (a log page, the hash index, a
/// metadata array) alive and unchanged until the write's callback runs, and a partial write is simply written again.
/// Reads are passed through untouched.
/// </remarks>
internal sealed class ResilientDevice : IDevice
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxRetry = TimeSpan.FromMilliseconds(500);

    /// <summary>How long <see cref="Dispose"/> waits for FASTER's device to close.</summary>
    internal static readonly TimeSpan DisposeTimeout = TimeSpan.FromSeconds(10);

    private readonly IDevice _inner;
    private readonly DeviceHealth _health;

    public ResilientDevice(IDevice inner, DeviceHealth health)
    {
        _inner = inner;
        _health = health;
    }

    public uint SectorSize => _inner.SectorSize;

    public string FileName => _inner.FileName;

    public long Capacity => _inner.Capacity;

    public long SegmentSize => _inner.SegmentSize;

    public int StartSegment => _inner.StartSegment;

    public int EndSegment => _inner.EndSegment;

    public int ThrottleLimit
    {
        get => _inner.ThrottleLimit;
        set => _inner.ThrottleLimit = value;
    }

    public void Initialize(long segmentSize, LightEpoch? epoch = null, bool omitSegmentIdFromFilename = false) =>
        _inner.Initialize(segmentSize, epoch, omitSegmentIdFromFilename);

    public bool TryComplete() => _inner.TryComplete();

    public bool Throttle() => _inner.Throttle();

    public void WriteAsync(IntPtr sourceAddress, int segmentId, ulong destinationAddress, uint numBytesToWrite, DeviceIOCompletionCallback callback, object context) =>
        new Write(this, sourceAddress, segmentId, destinationAddress, numBytesToWrite, callback, context).Issue();

    public void WriteAsync(IntPtr sourceAddress, ulong alignedDestinationAddress, uint numBytesToWrite, DeviceIOCompletionCallback callback, object context) =>
        new Write(this, sourceAddress, -1, alignedDestinationAddress, numBytesToWrite, callback, context).Issue();

    public void ReadAsync(int segmentId, ulong sourceAddress, IntPtr destinationAddress, uint readLength, DeviceIOCompletionCallback callback, object context) =>
        _inner.ReadAsync(segmentId, sourceAddress, destinationAddress, readLength, callback, context);

    public void ReadAsync(ulong alignedSourceAddress, IntPtr alignedDestinationAddress, uint aligned_read_length, DeviceIOCompletionCallback callback, object context) =>
        _inner.ReadAsync(alignedSourceAddress, alignedDestinationAddress, aligned_read_length, callback, context);

    /// <summary>
    /// True for a FasterKV store's log (<see cref="KvCheckpoints"/>): FASTER's own truncations are ignored, and segment
    /// files are removed only by <see cref="TruncateBelow"/>. FASTER truncates the log to a checkpoint's begin address as
    /// soon as it hands over the checkpoint's metadata, before the checkpoint is recorded, which would delete segments
    /// the last recorded checkpoint still needs (a crash then left nothing to recover).
    /// </summary>
    public bool TruncatesOnlyWhenTold { get; init; }

    public void TruncateUntilAddressAsync(long toAddress, AsyncCallback callback, IAsyncResult result)
    {
        if (TruncatesOnlyWhenTold)
        {
            callback?.Invoke(result);
            return;
        }

        _inner.TruncateUntilAddressAsync(toAddress, callback, result);
    }

    public void TruncateUntilAddress(long toAddress)
    {
        if (!TruncatesOnlyWhenTold)
        {
            _inner.TruncateUntilAddress(toAddress);
        }
    }

    public void TruncateUntilSegmentAsync(int toSegment, AsyncCallback callback, IAsyncResult result)
    {
        if (TruncatesOnlyWhenTold)
        {
            callback?.Invoke(result);
            return;
        }

        _inner.TruncateUntilSegmentAsync(toSegment, callback, result);
    }

    public void TruncateUntilSegment(int toSegment)
    {
        if (!TruncatesOnlyWhenTold)
        {
            _inner.TruncateUntilSegment(toSegment);
        }
    }

    /// <summary>Removes the segment files wholly below <paramref name="address"/> (waits for it).</summary>
    public void TruncateBelow(long address) => _inner.TruncateUntilAddress(address);

    public void RemoveSegmentAsync(int segment, AsyncCallback callback, IAsyncResult result) =>
        _inner.RemoveSegmentAsync(segment, callback, result);

    public void RemoveSegment(int segment) => _inner.RemoveSegment(segment);

    public long GetFileSize(int segment) => _inner.GetFileSize(segment);

    public void Reset() => _inner.Reset();

    /// <summary>
    /// Closes the device, waiting at most <see cref="DisposeTimeout"/>. FASTER's local device waits, without a bound,
    /// for every pooled file handle to come back before it closes; one still held (an I/O that never completed, seen
    /// once in CI closing an impression log after a truncation) would hang the close, and closing must be bounded
    /// whatever the disk does. After the timeout the handles are left to the process's exit, with one line on stderr.
    /// </summary>
    public void Dispose()
    {
        var close = Task.Run(_inner.Dispose);
        if (close.Wait(DisposeTimeout))
        {
            close.GetAwaiter().GetResult(); // an exception of the close, as before
            return;
        }

        Console.Error.WriteLine($"{_health.Store} ({FileName}): closing its device did not finish within {DisposeTimeout.TotalSeconds:0} s (a file handle is still in use); left to the process's exit");
    }

    /// <summary>One write and its retries. Off the request path (page flushes, checkpoints, commits): one object per write.</summary>
    private sealed class Write(
        ResilientDevice device, IntPtr source, int segmentId, ulong destination, uint bytes, DeviceIOCompletionCallback callback, object context)
    {
        private TimeSpan _delay = FirstRetry;
        private bool _stalled;

        public void Issue()
        {
            var health = device._health;
            if (health.Faults?.ShouldFail(device.FileName) == true)
            {
                Completed(uint.MaxValue, 0, null);
                return;
            }

            try
            {
                if (segmentId >= 0)
                {
                    device._inner.WriteAsync(source, segmentId, destination, bytes, Completed, null!);
                }
                else
                {
                    device._inner.WriteAsync(source, destination, bytes, Completed, null!);
                }
            }
            catch (IOException)
            {
                // The managed device opens segment files on demand and may throw here (disk full creating the file).
                Completed(uint.MaxValue, 0, null);
            }
            catch (UnauthorizedAccessException)
            {
                Completed(uint.MaxValue, 0, null);
            }
        }

        private void Completed(uint errorCode, uint numBytes, object? ignored)
        {
            var health = device._health;
            if (errorCode == 0 || health.IsAbandoned)
            {
                if (_stalled)
                {
                    health.StallEnds();
                }

                callback(errorCode, errorCode == 0 ? bytes : numBytes, context);
                return;
            }

            health.WriteFailed(device.FileName, errorCode);
            if (!_stalled)
            {
                _stalled = true;
                health.StallBegins();
            }

            var delay = _delay;
            _delay = TimeSpan.FromTicks(Math.Min(MaxRetry.Ticks, delay.Ticks * 2));
            _ = Task.Delay(delay).ContinueWith(static (_, state) => ((Write)state!).Issue(), this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }
}

/// <summary>Creates the devices of checkpoints and commit records (FASTER's named-device factory) as <see cref="ResilientDevice"/>s.</summary>
internal sealed class ResilientDeviceFactory(DeviceHealth health) : INamedDeviceFactory
{
    // FASTER's own defaults for checkpoint and commit devices (FasterKVSettings.CheckpointDir, FasterLogSettings.LogCommitDir).
    private readonly LocalStorageNamedDeviceFactory _inner = new();

    public void Initialize(string baseName) => _inner.Initialize(baseName);

    public IDevice Get(FileDescriptor fileInfo) => new ResilientDevice(_inner.Get(fileInfo), health);

    public void Delete(FileDescriptor fileInfo) => _inner.Delete(fileInfo);

    public IEnumerable<FileDescriptor> ListContents(string path) => _inner.ListContents(path);
}
