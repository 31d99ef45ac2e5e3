using System.Diagnostics;
using EdgeSelector.Storage.Impressions;
using Xunit;

namespace EdgeSelector.Storage.Tests;

public sealed class ImpressionLogTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    internal static ImpressionLogOptions Options(string directory) => new()
    {
        DataDirectory = directory,
        MemoryBytes = 1L << 20,
        PageBytes = 64L << 10,
        SegmentBytes = 256L << 10,
        CommitInterval = TimeSpan.FromMilliseconds(5),
        CommitBytes = 64L << 10,
    };

    [Fact]
    public async Task TryEnqueue_ThenWaitForCommit_IsCommitted()
    {
        using var log = ImpressionLog.Open(Options(_dir.Path));
        var record = new byte[ImpressionLogCrashHelper.RecordBytes];
        ImpressionLogCrashHelper.Fill(record, 0);
        Assert.True(log.TryEnqueue(record, out long address));

        await log.WaitForCommitAsync(address).AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(log.IsCommitted(address));
        Assert.True(log.CommittedUntilAddress > address);
    }

    [Fact]
    public void Open_AfterDispose_ReadsEveryEntryInOrder()
    {
        const int Count = 50_000; // ~3 MB: several pages and segments
        AppendRange(0, Count, commit: true);

        using var log = ImpressionLog.Open(Options(_dir.Path));
        var reader = log.OpenReader("verify");
        var seen = new Seen();
        while (reader.TryReadNext(new Checker(seen)))
        {
        }

        Assert.Null(seen.Error);
        Assert.Equal(Count, seen.Count);
    }

    [Fact]
    public void Dispose_WithoutExplicitCommit_CommitsPendingEntries()
    {
        AppendRange(0, 1_000, commit: false);

        using var log = ImpressionLog.Open(Options(_dir.Path));
        Assert.Equal(1_000, ReadAll(log, "all").Count);
    }

    [Fact]
    public async Task Reader_WhileWriterAppends_SeesEveryEntryInOrder()
    {
        const int Count = 100_000;
        using var log = ImpressionLog.Open(Options(_dir.Path));
        var reader = log.OpenReader("follower");
        var seen = new Seen();

        var consumer = Task.Run(async () =>
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (seen.Count < Count && seen.Error is null)
            {
                while (reader.TryReadNext(new Checker(seen)))
                {
                }

                if (seen.Count < Count)
                {
                    await reader.WaitAsync(timeout.Token);
                }
            }
        });

        var record = new byte[ImpressionLogCrashHelper.RecordBytes];
        for (int i = 0; i < Count; i++)
        {
            ImpressionLogCrashHelper.Fill(record, (ulong)i);
            while (!log.TryEnqueue(record, out _))
            {
                Thread.Yield(); // buffer full: the committer catches up
            }
        }

        await consumer.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Null(seen.Error);
        Assert.Equal(Count, seen.Count);
    }

    [Fact]
    public void TryEnqueue_FromSeveralThreads_EveryEntryReadBackInPerThreadOrder()
    {
        const int Threads = 4;
        const int PerThread = 25_000;
        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            var deadline = DateTime.UtcNow.AddSeconds(60); // a log that stops taking entries fails the count below, never hangs
            var writers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
            {
                var record = new byte[16];
                for (int i = 0; i < PerThread; i++)
                {
                    System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(record, t);
                    System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(4), i);
                    while (!log.TryEnqueue(record, out _) && DateTime.UtcNow < deadline)
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
                Assert.True(writer.Join(TimeSpan.FromMinutes(2)), "a writer is still appending after 2 minutes");
            }
        }

        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            var reader = log.OpenReader("all");
            var next = new long[Threads];
            var errors = new List<string>();
            while (reader.TryReadNext(new PerThreadChecker(next, errors)))
            {
            }

            Assert.Empty(errors);
            Assert.All(next, n => Assert.Equal(PerThread, n));
        }
    }

    [Fact]
    public void Reader_AcknowledgedAndReopened_ResumesAfterAcknowledgedEntry()
    {
        AppendRange(0, 1_000, commit: true);
        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            var reader = log.OpenReader("join");
            var seen = new Seen();
            for (int i = 0; i < 600; i++)
            {
                Assert.True(reader.TryReadNext(new Checker(seen)));
            }

            reader.Acknowledge(seen.NextAddress);
            log.Commit();
        }

        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            var reader = log.OpenReader("join");
            var seen = new Seen { Count = 600 };
            while (reader.TryReadNext(new Checker(seen)))
            {
            }

            Assert.Null(seen.Error);
            Assert.Equal(1_000, seen.Count);
        }
    }

    [Fact]
    public void TruncateUntil_ConsumedSegments_DeletesSegmentFilesAndKeepsTheRest()
    {
        const int Count = 40_000; // ~2.5 MB over 256 KB segments
        AppendRange(0, Count, commit: true);
        string logDir = Path.Combine(_dir.Path, "log");
        int segmentsBefore = Directory.GetFiles(logDir).Length;

        long cut;
        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            var reader = log.OpenReader("join");
            var seen = new Seen();
            for (int i = 0; i < 30_000; i++)
            {
                Assert.True(reader.TryReadNext(new Checker(seen)));
            }

            cut = seen.NextAddress;
            reader.Acknowledge(cut);
            log.TruncateUntil(cut);
            log.Commit();
            Assert.Equal(cut, log.BeginAddress);

            // FASTER deletes the segment files in the background once the commit has persisted the new begin address.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (Directory.GetFiles(logDir).Length >= segmentsBefore && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }

            Assert.True(Directory.GetFiles(logDir).Length < segmentsBefore, "expected consumed segment files to be deleted");
        }
        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            Assert.True(log.OpenReport.Outcome == Health.StoreOpenOutcome.Recovered, log.OpenReport.Message);
            Assert.Equal(cut, log.BeginAddress);
            var reader = log.OpenReader("fresh");
            var seen = new Seen { Count = 30_000 };
            while (reader.TryReadNext(new Checker(seen)))
            {
            }

            Assert.Null(seen.Error);
            Assert.Equal(Count, seen.Count);
        }
    }

    [Fact]
    public void Kill9_AfterReportedCommits_EveryReportedEntryIsReadable() => Kill9(posting: false);

    [Fact]
    public void Kill9_PostedThroughTheRing_EveryEntryReportedCommittedIsReadable() => Kill9(posting: true);

    private void Kill9(bool posting)
    {
        string host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(ImpressionLogCrashHelper).Assembly.Location);
        start.ArgumentList.Add(ImpressionLogCrashHelper.Verb);
        start.ArgumentList.Add(_dir.Path);
        if (posting)
        {
            start.ArgumentList.Add(ImpressionLogCrashHelper.PostMode);
        }

        long reported = 0;
        using (var child = Process.Start(start)!)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (reported < 50_000 && DateTime.UtcNow < deadline && child.StandardOutput.ReadLine() is { } line)
            {
                if (line.StartsWith("committed ", StringComparison.Ordinal))
                {
                    reported = long.Parse(line.AsSpan("committed ".Length), System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            child.Kill(entireProcessTree: true); // SIGKILL: no Dispose, no final commit
            child.WaitForExit();
        }

        Assert.True(reported > 0, "the child never reported a commit");
        using var log = ImpressionLog.Open(Options(_dir.Path));
        var seen = ReadAll(log, "after-crash");
        Assert.Null(seen.Error);
        Assert.True(seen.Count >= reported, $"child reported {reported} committed entries; {seen.Count} readable");
    }

    [Fact]
    public void RetainBytes_RotatesWholeSegments_FilesStayBounded_ReadersResumeAtWholeRecords()
    {
        const int Count = 60_000; // 48-byte records: ~3.4 MB through 256 KB segments
        var options = new ImpressionLogOptions
        {
            DataDirectory = _dir.Path,
            MemoryBytes = 1L << 20,
            PageBytes = 64L << 10,
            SegmentBytes = 256L << 10,
            CommitInterval = TimeSpan.FromMilliseconds(5),
            CommitBytes = 64L << 10,
            RetainBytes = 512L << 10,
        };
        using (var log = ImpressionLog.Open(options))
        {
            var record = new byte[ImpressionLogCrashHelper.RecordBytes];
            for (int i = 0; i < Count; i++)
            {
                ImpressionLogCrashHelper.Fill(record, (ulong)i);
                while (!log.TryEnqueue(record, out _))
                {
                    Thread.Yield();
                }
            }

            log.Commit();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (log.TailAddress - log.BeginAddress > (512L << 10) + (256L << 10) && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(10);
            }

            Assert.True(log.RotatedSegments > 0);
            Assert.True(log.TailAddress - log.BeginAddress <= (512L << 10) + (256L << 10), "the log keeps about RetainBytes");
            Assert.Equal(0, log.BeginAddress % (256L << 10));

            // FASTER deletes the files below the begin address in the background after a commit.
            var logDir = Path.Combine(_dir.Path, "log");
            deadline = DateTime.UtcNow.AddSeconds(10);
            while (Directory.GetFiles(logDir).Length > 5 && DateTime.UtcNow < deadline)
            {
                log.Commit();
                Thread.Sleep(20);
            }

            Assert.True(Directory.GetFiles(logDir).Length <= 5, $"rotated segment files are deleted: {Directory.GetFiles(logDir).Length} left");
        }

        // What is left reads as whole records, in order, ending at the last one written.
        var first = -1L;
        var last = -1L;
        var errors = 0;
        using (var snapshot = ImpressionLogSnapshotReader.Open(_dir.Path, pageBytes: 64L << 10, segmentBytes: 256L << 10))
        {
            Assert.True(snapshot.BeginAddress % (256L << 10) == 0, $"snapshot begin {snapshot.BeginAddress} committed {snapshot.CommittedUntilAddress}");
            snapshot.ReadFrom(0, new Sequence(v =>
            {
                if (first < 0)
                {
                    first = v;
                }
                else if (v != last + 1)
                {
                    errors++;
                }

                last = v;
            }));
        }

        Assert.True(first > 0, "the head was rotated away");
        Assert.Equal(Count - 1, last);
        Assert.Equal(0, errors);
    }

    [Fact]
    public async Task SnapshotReader_WhileWriterAppends_ReadsCommittedEntriesInOrderAndResumes()
    {
        const int Count = 20_000;
        using var log = ImpressionLog.Open(Options(_dir.Path));
        var record = new byte[ImpressionLogCrashHelper.RecordBytes];
        long last = 0;
        for (int i = 0; i < Count / 2; i++)
        {
            ImpressionLogCrashHelper.Fill(record, (ulong)i);
            Assert.True(log.TryEnqueue(record, out last));
        }

        await log.WaitForCommitAsync(last).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var seen = new Seen();
        long resume;
        using (var snapshot = ImpressionLogSnapshotReader.Open(_dir.Path, pageBytes: 64L << 10, segmentBytes: 256L << 10))
        {
            resume = snapshot.ReadFrom(0, new Checker(seen));
        }

        Assert.Null(seen.Error);
        Assert.Equal(Count / 2, seen.Count);

        for (int i = Count / 2; i < Count; i++)
        {
            ImpressionLogCrashHelper.Fill(record, (ulong)i);
            Assert.True(log.TryEnqueue(record, out last));
        }

        await log.WaitForCommitAsync(last).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        using (var snapshot = ImpressionLogSnapshotReader.Open(_dir.Path, pageBytes: 64L << 10, segmentBytes: 256L << 10))
        {
            var rest = new Seen { Count = Count / 2 };
            snapshot.ReadFrom(resume, new Checker(rest));
            Assert.Null(rest.Error);
            Assert.Equal(Count, rest.Count);
        }
    }

    private void AppendRange(int start, int count, bool commit)
    {
        using var log = ImpressionLog.Open(Options(_dir.Path));
        var record = new byte[ImpressionLogCrashHelper.RecordBytes];
        for (int i = start; i < start + count; i++)
        {
            ImpressionLogCrashHelper.Fill(record, (ulong)i);
            while (!log.TryEnqueue(record, out _))
            {
                Thread.Yield();
            }
        }

        if (commit)
        {
            log.Commit();
        }
    }

    private static Seen ReadAll(ImpressionLog log, string readerName)
    {
        var reader = log.OpenReader(readerName);
        var seen = new Seen();
        while (reader.TryReadNext(new Checker(seen)))
        {
        }

        return seen;
    }

    private readonly struct Sequence(Action<long> onValue) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            var value = record.Length >= 8 ? System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(record) : ulong.MaxValue;
            onValue(value < 60_000 && ImpressionLogCrashHelper.Check(record, value) ? (long)value : -100);
        }
    }

    private sealed class Seen
    {
        public long Count;
        public long NextAddress;
        public string? Error;
    }

    private readonly struct PerThreadChecker(long[] next, List<string> errors) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            int thread = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(record);
            long sequence = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(record[4..]);
            if (record.Length != 16 || (uint)thread >= (uint)next.Length || sequence != next[thread])
            {
                errors.Add($"unexpected entry thread {thread} seq {sequence} at {address}");
                return;
            }

            next[thread]++;
        }
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
            seen.NextAddress = nextAddress;
        }
    }
}
