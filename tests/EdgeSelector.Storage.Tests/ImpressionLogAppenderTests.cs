using System.Buffers.Binary;
using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Impressions;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>
/// The log with an appender ring (<see cref="ImpressionLog.TryPost"/>): what is posted is appended once and in order,
/// Commit and Dispose take it first, a full ring refuses and counts, and a posting thread allocates nothing.
/// </summary>
public sealed class ImpressionLogAppenderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ImpressionLogOptions Options(string directory, StorageFaults? faults = null) =>
        ImpressionLogTests.Options(directory) with { AppendRingBytes = 256L << 10, Faults = faults };

    [Fact]
    public void TryPost_ThenCommit_EveryEntryIsCommittedAndReadable()
    {
        const int Count = 20_000; // ~1.1 MB: several laps of the 256 KB ring
        using var log = ImpressionLog.Open(Options(_dir.Path));
        Assert.Equal(256L << 10, log.RingCapacityBytes);
        Post(log, 0, Count);

        log.Commit();

        Assert.Equal(0, log.RingDepthBytes);
        Assert.Equal(0, log.LagBytes);
        Assert.Equal(Count, Read(log, "all"));
    }

    [Fact]
    public void TryPost_VaryingSizesOnSmallPages_AppendedInRunsWholeAndInOrder()
    {
        // The appender appends runs of records with one FasterLog call; a run must fit on one page (FasterLog throws
        // otherwise) whatever the records' sizes, up to the largest a page takes, and keep every record's bytes.
        const int Count = 6_000;
        var options = ImpressionLogTests.Options(_dir.Path) with
        {
            PageBytes = 4L << 10,
            MemoryBytes = 64L << 10,
            AppendRingBytes = 64L << 10,
        };
        var random = new Random(7);
        var sizes = new int[Count];
        using (var log = ImpressionLog.Open(options))
        {
            var record = new byte[log.MaxRecordBytes];
            var spins = 0L;
            for (var i = 0; i < Count; i++)
            {
                sizes[i] = i % 97 == 0 ? log.MaxRecordBytes : random.Next(8, 700);
                FillSized(record.AsSpan(0, sizes[i]), i);
                while (log.RingDepthBytes > log.RingCapacityBytes / 4 || !log.TryPost(record.AsSpan(0, sizes[i])))
                {
                    Assert.True(++spins < 100_000_000, "the ring never drained");
                    Thread.Yield();
                }
            }

            log.Commit();
            Assert.Equal(0, log.RingRefused);
            Assert.Equal(0, log.AppenderDropped);
            Assert.Null(log.AppendFailure);
            Assert.Equal(0, log.LagBytes);
        }

        using var reopened = ImpressionLog.Open(ImpressionLogTests.Options(_dir.Path) with { PageBytes = 4L << 10, MemoryBytes = 64L << 10 });
        var reader = reopened.OpenReader("all");
        var errors = new List<string>();
        var next = new int[1];
        while (reader.TryReadNext(new SizedChecker(sizes, next, errors)))
        {
        }

        Assert.Empty(errors);
        Assert.Equal(Count, next[0]);
    }

    [Fact]
    public async Task TryPost_ThenTryCommitAsync_DrainsTheRingFirst()
    {
        using var log = ImpressionLog.Open(Options(_dir.Path));
        Post(log, 0, 3_000);

        Assert.True(await log.TryCommitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, log.LagBytes);
        Post(log, 3_000, 3_000);
        Assert.True(await log.TryCommitAsync(Timeout.InfiniteTimeSpan));

        Assert.Equal(0, log.LagBytes);
        Assert.Equal(6_000, Read(log, "all"));
    }

    [Fact]
    public void TryPost_ThenDispose_EveryEntryReadableAfterReopen()
    {
        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            Post(log, 0, 5_000);
        }

        using var reopened = ImpressionLog.Open(ImpressionLogTests.Options(_dir.Path));
        Assert.Equal(5_000, Read(reopened, "all"));
    }

    [Fact]
    public void TryPost_FromFourThreads_EveryEntryAppendedOnceInEachThreadsOrder()
    {
        const int Threads = 4;
        const int PerThread = 25_000;
        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            var writers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
            {
                var record = new byte[16];
                for (var i = 0; i < PerThread; i++)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(record, t);
                    BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(4), i);
                    // Paced to the appender (a post the ring cannot take is appended by the poster, out of the ring's
                    // order): this checks the ring's order, so no post may overflow.
                    while (log.RingDepthBytes > log.RingCapacityBytes / 2 && DateTime.UtcNow < deadline)
                    {
                        Thread.Yield();
                    }

                    while (!log.TryPost(record) && DateTime.UtcNow < deadline)
                    {
                        Thread.Yield();
                    }
                }
            })).ToArray();
            foreach (var writer in writers)
            {
                writer.Start();
            }

            foreach (var writer in writers)
            {
                Assert.True(writer.Join(TimeSpan.FromMinutes(2)), "a writer is still posting after 2 minutes");
            }

            log.Commit();
            Assert.Equal(0, log.AppenderDropped);
        }

        using var reopened = ImpressionLog.Open(ImpressionLogTests.Options(_dir.Path));
        var reader = reopened.OpenReader("all");
        var next = new long[Threads];
        var errors = new List<string>();
        while (reader.TryReadNext(new PerThreadChecker(next, errors)))
        {
        }

        Assert.Empty(errors);
        Assert.All(next, n => Assert.Equal(PerThread, n));
    }

    [Fact]
    public async Task TryPost_WhileTheDiskFails_RingFillsThenRefusesAndCounts_LagCountsTheRing()
    {
        var faults = new StorageFaults { FailWrites = true };
        var log = ImpressionLog.Open(Options(_dir.Path, faults) with { CloseTimeout = TimeSpan.FromMilliseconds(300) });
        var record = new byte[ImpressionLogCrashHelper.RecordBytes];
        var posted = 0;

        // 1 MB of log memory holds ~17,000 entries of 48 bytes and nothing is flushed: the appender stalls on the full
        // log, then the 256 KB ring fills behind it and refuses. Posting goes on (bounded) until the log's tail has not
        // moved for 50 refused posts a millisecond apart.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var stuck = 0;
        var lastTail = -1L;
        while (stuck < 50 && DateTime.UtcNow < deadline)
        {
            ImpressionLogCrashHelper.Fill(record, (ulong)posted);
            if (log.TryPost(record))
            {
                posted++;
                continue;
            }

            stuck = log.TailAddress == lastTail ? stuck + 1 : 0;
            lastTail = log.TailAddress;
            Thread.Sleep(1);
        }

        Assert.True(log.RingRefused > 0, "the ring never refused a post");
        Assert.True(posted > 10_000, $"{posted} posted before the ring filled");
        Assert.True(log.TailAddress - log.CommittedUntilAddress > (700L << 10), "the log's memory did not fill");
        Assert.True(log.RingDepthBytes > (200L << 10), $"{log.RingDepthBytes} bytes in the ring");
        Assert.True(log.LagBytes >= log.RingDepthBytes, $"lag {log.LagBytes} < ring {log.RingDepthBytes}");
        await WaitUntil(() => log.Health.IsWriteStalled, TimeSpan.FromSeconds(10));
        Assert.False(log.IsHealthy);

        log.Dispose(); // the disk never recovers: what the ring holds is dropped at close, and counted
        Assert.True(log.AppenderDropped > 0, "nothing counted as dropped at close");
        Assert.False(log.TryPost(record)); // closed
    }

    [Fact]
    public void TryPost_PostingThread_AllocatesNothing()
    {
        const int Count = 50_000; // ~2.8 MB through 64 KB pages: many page turns and commits
        using var log = ImpressionLog.Open(Options(_dir.Path));
        Post(log, 0, 1_000); // warm up (JIT)

        // Paced to the appender (a full ring falls back to appending on the posting thread, which is FasterLog's work
        // and allocates at its page turns): this measures the posting path itself, and that it never overflowed.
        var overflowed = log.RingRefused;
        var before = GC.GetAllocatedBytesForCurrentThread();
        Post(log, 1_000, Count);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(overflowed, log.RingRefused);
        Assert.Equal(0, allocated);
        log.Commit();
        Assert.Equal(1_000 + Count, Read(log, "all"));
    }

    [Fact]
    public void TryPost_RingFull_AppendsOnThePostingThreadInsteadOfDropping()
    {
        // The smallest ring (512 bytes) holds nine 48-byte entries: a tight loop outruns the appender thread (which
        // appends each through FasterLog), and every post the ring cannot take must still reach the log (appended by
        // the poster), none lost, none twice.
        const int Count = 20_000;
        // The log's memory holds every post (20,000 × 56 bytes), so only the ring can overflow, whatever the disk's speed
        // (with 1 MB a slow CI disk filled the memory too, and the log refused a post rightly).
        using var log = ImpressionLog.Open(ImpressionLogTests.Options(_dir.Path) with { AppendRingBytes = 512, MemoryBytes = 4L << 20 });
        Assert.Equal(512, log.RingCapacityBytes);
        Span<byte> record = stackalloc byte[ImpressionLogCrashHelper.RecordBytes];
        for (var i = 0; i < Count; i++)
        {
            ImpressionLogCrashHelper.Fill(record, (ulong)i);
            Assert.True(log.TryPost(record), $"post {i} refused with room in the log (ring refused {log.RingRefused})");
        }

        log.Commit();

        Assert.True(log.RingRefused > 0, "the ring never overflowed");
        var seen = new bool[Count];
        var errors = new List<string>();
        var reader = log.OpenReader("unordered");
        while (reader.TryReadNext(new OnceChecker(seen, errors)))
        {
        }

        Assert.Empty(errors);
        Assert.All(seen, Assert.True);
    }

    [Fact]
    public void TryPost_WithoutARing_AppendsOnTheCallersThread()
    {
        using var log = ImpressionLog.Open(ImpressionLogTests.Options(_dir.Path));
        Assert.Equal(0, log.RingCapacityBytes);
        var tail = log.TailAddress;
        var record = new byte[ImpressionLogCrashHelper.RecordBytes];
        ImpressionLogCrashHelper.Fill(record, 0);

        Assert.True(log.TryPost(record));

        Assert.True(log.TailAddress > tail); // appended before TryPost returned
    }

    // Posts entries start..start+count-1, retrying while the log refuses (bounded); paced: waiting while the ring is
    // more than half full, so that no post overflows to the posting thread.
    private static void Post(ImpressionLog log, int start, int count, bool paced = true)
    {
        Span<byte> record = stackalloc byte[ImpressionLogCrashHelper.RecordBytes];
        var spins = 0L;
        for (var i = start; i < start + count; i++)
        {
            ImpressionLogCrashHelper.Fill(record, (ulong)i);
            while (paced && log.RingDepthBytes > log.RingCapacityBytes / 2)
            {
                Assert.True(++spins < 100_000_000, "the ring never drained");
                Thread.Yield();
            }

            while (!log.TryPost(record))
            {
                Assert.True(++spins < 100_000_000, "the ring never drained");
                Thread.Yield();
            }
        }
    }

    private static int Read(ImpressionLog log, string reader)
    {
        var r = log.OpenReader(reader);
        var seen = new Seen();
        while (r.TryReadNext(new Checker(seen)))
        {
        }

        Assert.Null(seen.Error);
        return seen.Count;
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(20);
        }
    }

    private sealed class Seen
    {
        public int Count;
        public string? Error;
    }

    private readonly struct Checker(Seen seen) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            if (seen.Error is null && !ImpressionLogCrashHelper.Check(record, (ulong)seen.Count))
            {
                seen.Error = $"entry {seen.Count} at {address} is wrong";
            }

            seen.Count++;
        }
    }

    // Entries in any order (an overflow appended by the poster may pass entries still in the ring), each exactly once.
    private readonly struct OnceChecker(bool[] seen, List<string> errors) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            var sequence = record.Length >= 8 ? BinaryPrimitives.ReadUInt64LittleEndian(record) : ulong.MaxValue;
            if (sequence >= (ulong)seen.Length || !ImpressionLogCrashHelper.Check(record, sequence) || seen[sequence])
            {
                errors.Add($"unexpected or repeated entry {sequence} at {address}");
                return;
            }

            seen[sequence] = true;
        }
    }

    private static void FillSized(Span<byte> record, int sequence)
    {
        BinaryPrimitives.WriteInt32LittleEndian(record, sequence);
        for (var i = 4; i < record.Length; i++)
        {
            record[i] = (byte)((sequence * 31) + i);
        }
    }

    private readonly struct SizedChecker(int[] sizes, int[] next, List<string> errors) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            var sequence = next[0]++;
            var good = sequence < sizes.Length && record.Length == sizes[sequence]
                && BinaryPrimitives.ReadInt32LittleEndian(record) == sequence;
            for (var i = 4; good && i < record.Length; i++)
            {
                good = record[i] == (byte)((sequence * 31) + i);
            }

            if (!good && errors.Count < 10)
            {
                errors.Add($"entry {sequence} at {address} is wrong ({record.Length} bytes)");
            }
        }
    }

    private readonly struct PerThreadChecker(long[] next, List<string> errors) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            var thread = BinaryPrimitives.ReadInt32LittleEndian(record);
            var sequence = BinaryPrimitives.ReadInt64LittleEndian(record[4..]);
            if (record.Length != 16 || (uint)thread >= (uint)next.Length || sequence != next[thread])
            {
                errors.Add($"unexpected entry thread {thread} seq {sequence} at {address}");
                return;
            }

            next[thread]++;
        }
    }
}
