using System.Diagnostics;
using FASTER.core;

namespace EdgeSelector.Storage.Impressions;

/// <summary>
/// The appender ring (<see cref="ImpressionLogOptions.AppendRingBytes"/>): callers of <see cref="TryPost"/> copy their
/// record into a lock-free ring and return; one dedicated thread appends the ring to FasterLog, so FasterLog's epoch
/// work (page flushes and commit bookkeeping, which allocate) runs on that thread and never on a caller's.
/// </summary>
public sealed partial class ImpressionLog
{
    // The appender polls an empty ring this often (a posted record waits at most this long before it is appended); a
    // poster wakes it sooner only when the ring is getting full, so a steady load costs no wake-up per record.
    private static readonly TimeSpan AppenderIdleWait = TimeSpan.FromMilliseconds(1);

    private readonly AppendRing? _ring;
    private readonly RingRun? _run;
    private readonly Thread? _appender;
    // No spinning before it sleeps (spinCount 0): SemaphoreSlim.Wait spins with Thread.Yield first, and on a node whose
    // serving thread shares the core that is a system call and a context switch per spin, on every idle poll.
    private readonly ManualResetEventSlim _appenderWake = new(false, spinCount: 0);
    private readonly long _wakeDepth;
    private int _appenderIdle;
    private int _appenderStopping;
    private readonly PostsInProgress _posting = new();
    private int _appenderAbandon;
    private long _appenderDropped;
    private long _ringRefused;
    private Exception? _appendFailure;

    /// <summary>Bytes of the appender ring (0: no ring, <see cref="TryPost"/> appends on the caller's thread).</summary>
    public long RingCapacityBytes => _ring?.Capacity ?? 0;

    /// <summary>Bytes posted to the ring and not yet appended to the log (framing included).</summary>
    public long RingDepthBytes => _ring?.Depth ?? 0;

    /// <summary>
    /// Records the ring could not take because it was full (the appender, or the disk, is behind): <see cref="TryPost"/>
    /// appended them on the caller's thread instead (or refused them, if the log's memory was full too).
    /// </summary>
    public long RingRefused => Volatile.Read(ref _ringRefused);

    /// <summary>
    /// Records the appender took from the ring but could not append (the log gave up on the disk at close, or an
    /// append failed: <see cref="AppendFailure"/>); lost as in a crash, and never reported committed.
    /// </summary>
    public long AppenderDropped => Volatile.Read(ref _appenderDropped);

    /// <summary>The last unexpected failure of the appender thread, cleared by its next successful append.</summary>
    public Exception? AppendFailure => Volatile.Read(ref _appendFailure);

    /// <summary>
    /// Hands a record to the log without touching FasterLog on this thread: copies it into the appender ring and
    /// returns (the appender thread appends it, in post order per thread, and the committer makes it durable). When
    /// the ring is full (the appender thread is behind) the record is appended on this thread instead, as
    /// <see cref="TryEnqueue"/> (counted in <see cref="RingRefused"/>), so a slow appender costs allocation-free
    /// serving, never records. False if it is too big, the log's memory is full too (the disk is behind) or the log is
    /// closing: the caller drops it and counts it. Allocation-free and lock-free while the ring has room; never throws.
    /// Without a ring this is <see cref="TryEnqueue"/>.
    /// </summary>
    /// <remarks>
    /// A posted record has no address yet; it counts in <see cref="LagBytes"/> until it is committed, and
    /// <see cref="Commit"/>, <see cref="TryCommitAsync"/> and <see cref="Dispose"/> append every record posted before them.
    /// Mixing with <see cref="TryEnqueue"/> on one log gives no order between the two, and a record appended directly
    /// on overflow may land before records posted earlier that still wait in the ring.
    /// </remarks>
    public bool TryPost(ReadOnlySpan<byte> record)
    {
        if (_ring is null)
        {
            return TryEnqueue(record, out _);
        }

        if (record.Length > MaxRecordBytes)
        {
            return false;
        }

        // The close handshake (Dekker's, no lock): a post announces itself, then reads "stopping"; the close sets
        // "stopping", then the appender waits for the posts in progress before its last look at the ring. So a post
        // either sees the close and refuses, or is seen by the appender and drained before Dispose goes on; none is
        // left in the ring, or appended directly after the final commit, while it returned true. Both interlocked
        // operations are full fences (ImpressionLogShutdownRaceTests).
        ref var slot = ref _posting.Enter();
        var posted = Volatile.Read(ref _appenderStopping) == 0 && PostToRing(record);
        Interlocked.Decrement(ref slot);
        return posted;
    }

    private bool PostToRing(ReadOnlySpan<byte> record)
    {
        if (!_ring!.TryWrite(record, out var depth))
        {
            // Overflow (the appender thread is behind: descheduled on a busy machine, or a record bigger than half the
            // ring): append on this thread, as without a ring, rather than lose the record. Only a log whose memory is
            // full too (the disk is behind) refuses it.
            Interlocked.Increment(ref _ringRefused);
            WakeAppender();
            return TryEnqueue(record, out _);
        }

        if (depth >= _wakeDepth)
        {
            WakeAppender();
        }

        return true;
    }

    private void WakeAppender()
    {
        if (Volatile.Read(ref _appenderIdle) != 0 && Interlocked.Exchange(ref _appenderIdle, 0) != 0)
        {
            _appenderWake.Set();
        }
    }

    // Sleeps until woken or AppenderIdleWait has passed. A wake that lands between the wait and the reset is late by at
    // most one poll: the loop looks at the ring before every wait.
    private void WaitForWake()
    {
        _appenderWake.Wait(AppenderIdleWait);
        _appenderWake.Reset();
    }

    private static Thread StartAppender(ImpressionLog log)
    {
        var thread = new Thread(log.AppendLoop) { IsBackground = true, Name = $"{log.Name} log appender" };
        thread.Start();
        return thread;
    }

    /// <summary>Waits until every record posted before the call has left the ring (appended, or dropped and counted).</summary>
    private bool DrainRing(TimeSpan timeout)
    {
        if (_ring is null)
        {
            return true;
        }

        var (target, start) = (_ring.Tail, Stopwatch.GetTimestamp());
        while (true)
        {
            if (DrainLook(target, start, timeout) is { } drained)
            {
                return drained;
            }

            Thread.Sleep(1);
        }
    }

    /// <summary>As <see cref="DrainRing"/>, awaiting a millisecond between looks instead of sleeping on the calling thread.</summary>
    private async Task<bool> DrainRingAsync(TimeSpan timeout)
    {
        if (_ring is null)
        {
            return true;
        }

        var (target, start) = (_ring.Tail, Stopwatch.GetTimestamp());
        while (true)
        {
            if (DrainLook(target, start, timeout) is { } drained)
            {
                return drained;
            }

            await Task.Delay(1).ConfigureAwait(false);
        }
    }

    // One look of a drain up to the ring position `target`: true once it is reached; false (or true if reached meanwhile)
    // when the appender is gone or `timeout` since `start` has passed; null otherwise, after waking the appender.
    private bool? DrainLook(long target, long start, TimeSpan timeout)
    {
        if (_ring!.Head >= target)
        {
            return true;
        }

        if (!_appender!.IsAlive || (timeout != Timeout.InfiniteTimeSpan && Stopwatch.GetElapsedTime(start) > timeout))
        {
            return _ring.Head >= target;
        }

        Volatile.Write(ref _appenderIdle, 0);
        _appenderWake.Set();
        return null;
    }

    /// <summary>
    /// Drains what was posted (bounded by <see cref="ImpressionLogOptions.CloseTimeout"/>) and stops the appender; if
    /// the log cannot take it in time (the disk is failing) the rest is dropped and counted, as a crash would lose it.
    /// </summary>
    private void StopAppender()
    {
        if (_appender is null)
        {
            return;
        }

        Interlocked.Exchange(ref _appenderStopping, 1); // a full fence: see TryPost's handshake
        _appenderWake.Set();
        if (!_appender.Join(_closeTimeout))
        {
            Volatile.Write(ref _appenderAbandon, 1);
            _appenderWake.Set();
            _appender.Join(_closeTimeout);
        }
    }

    private void AppendLoop()
    {
        var ring = _ring!;
        while (true)
        {
            try
            {
                if (_run!.TryTake(ring))
                {
                    AppendRun(ring, _run);
                    continue;
                }

                // Closing: the posts in progress (they passed the "stopping" check) are waited for before the ring is
                // seen empty, and read before its tail, which they move before they leave.
                if (Volatile.Read(ref _appenderStopping) != 0 && _posting.None && ring.Head >= ring.Tail)
                {
                    return; // everything posted before the close is appended
                }

                if (Volatile.Read(ref _appenderAbandon) != 0)
                {
                    return; // a poster never published its reservation: nothing more can be read
                }

                Volatile.Write(ref _appenderIdle, 1);
                if (ring.Depth == 0)
                {
                    WaitForWake();
                }
                else
                {
                    Thread.Yield(); // a poster is between its reservation and its publication: let it run
                }

                Volatile.Write(ref _appenderIdle, 0);
            }
#pragma warning disable CA1031 // The appender must record and go on, never die silently; AppendFailure and IsHealthy surface it.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Volatile.Write(ref _appendFailure, e);
                WaitForWake();
            }
        }
    }

    // Appends the taken run with one FasterLog call, waiting while FasterLog's memory is full (the disk is behind: the
    // ring fills and posters drop and count, as direct appends did), and releases it. A run FasterLog refuses for good
    // is dropped and counted, record by record.
    private void AppendRun(AppendRing ring, RingRun run)
    {
        try
        {
            while (!TryAppendRun(run))
            {
                if (Volatile.Read(ref _appenderAbandon) != 0)
                {
                    Interlocked.Add(ref _appenderDropped, run.Count);
                    break;
                }

                WaitForWake();
            }

            Volatile.Write(ref _appendFailure, null);
        }
        catch (FasterException)
        {
            Interlocked.Add(ref _appenderDropped, run.Count); // the device gave up (close): FasterLog refuses every append
        }
#pragma warning disable CA1031 // Counted and surfaced (AppendFailure); the run is dropped so the ring keeps moving.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Interlocked.Add(ref _appenderDropped, run.Count);
            Volatile.Write(ref _appendFailure, e);
        }

        ring.ReleaseTo(run.End);
    }

    // One record as TryEnqueue appends it; more under one FasterLog allocation and one epoch entry (each record keeps
    // its own header and checksum, in ring order: the bytes on the log are those of one append per record).
    private bool TryAppendRun(RingRun run)
    {
        long address;
        if (run.Count == 1)
        {
            if (!_log.TryEnqueue(run.Get(0), out address))
            {
                return false;
            }
        }
        else if (!_log.TryEnqueue(run, out address))
        {
            return false;
        }

        WakeCommitterIfDue(address + run.Bytes);
        return true;
    }

    // A run of records the appender takes from the ring and appends with one FasterLog call (IReadOnlySpanBatch): at
    // most MaxRecords, and beyond its first record at most a quarter page (16 KB at most) of FasterLog space, so a run always fits on one of
    // the log's pages (FasterLog throws for a batch that does not) and wastes little at a page's end. Reused: no
    // allocation per run.
    private sealed class RingRun : IReadOnlySpanBatch
    {
        private const int MaxRecords = 64;
        private const int EntryOverhead = 12 + 3; // FasterLog's per-entry header (length and checksum) and 4-byte alignment
        private readonly int _maxBytes;
        private readonly int[] _offsets = new int[MaxRecords];
        private readonly int[] _lengths = new int[MaxRecords];
        private AppendRing? _ring;

        public RingRun(long pageBytes) => _maxBytes = (int)Math.Min(16 * 1024, pageBytes / 4);

        public int Count { get; private set; }

        // Record bytes in the run (not counting FasterLog's headers).
        public long Bytes { get; private set; }

        // The ring position after the run's last frame (AppendRing.ReleaseTo).
        public long End { get; private set; }

        // Takes the published records at the ring's head, up to the bounds; false if there is none.
        public bool TryTake(AppendRing ring)
        {
            _ring = ring;
            var position = ring.Head;
            var count = 0;
            long bytes = 0;
            long space = 0;
            while (count < MaxRecords)
            {
                var next = position;
                if (!ring.TryPeekAt(ref next, out var offset, out var length)
                    || (count > 0 && space + length + EntryOverhead > _maxBytes))
                {
                    break;
                }

                _offsets[count] = offset;
                _lengths[count] = length;
                count++;
                bytes += length;
                space += length + EntryOverhead;
                position = next;
            }

            Count = count;
            Bytes = bytes;
            End = position;
            return count > 0;
        }

        public int TotalEntries() => Count;

        public ReadOnlySpan<byte> Get(int index) => _ring!.Record(_offsets[index], _lengths[index]);
    }

    // The posts in progress, one padded slot per processor: every post adds and removes itself in the slot of the
    // processor it started on (one uncontended interlocked add each), so serving threads on different cores never
    // share the line; the appender sums the slots only while closing. A post's +1 and its -1 go to the same slot, so
    // no slot is ever negative, and a sum of 0 read after "stopping" was set means no post that missed it is running:
    // a post's interlocked add precedes its read of "stopping", the close's exchange precedes its reads of the slots.
    private sealed class PostsInProgress
    {
        private const int Stride = 16; // 128 bytes between slots
        private static readonly int Stripes = Math.Max(1, Environment.ProcessorCount);
        private readonly int[] _slots = new int[Stripes * Stride];

        public ref int Enter()
        {
            ref var slot = ref _slots[(Thread.GetCurrentProcessorId() % Stripes) * Stride];
            Interlocked.Increment(ref slot);
            return ref slot;
        }

        public bool None
        {
            get
            {
                for (var i = 0; i < _slots.Length; i += Stride)
                {
                    if (Volatile.Read(ref _slots[i]) != 0)
                    {
                        return false;
                    }
                }

                return true;
            }
        }
    }
}
