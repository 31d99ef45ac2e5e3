using System.Buffers.Binary;
using EdgeSelector.Storage.Impressions;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>Rotation and readers: what rotation may drop, and readers racing it.</summary>
public sealed class ImpressionLogRetentionTests : IDisposable
{
    private const long Segment = 256L << 10;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void SnapshotReader_SegmentRotatedAwayBeforeRead_ResumesAtNewHead_CreatesNoFile()
    {
        // Four segments, no rotation; then the oldest segment is deleted after the view was opened, as the writer's
        // background deletion does after a rotation (a trainer reading a live node's log): the reader goes on from the
        // new head, in order, and never re-creates the deleted file in the writer's directory.
        const int Count = 15_000; // 64-byte entries: ~0.96 MB, four 256 KB segments
        Append(ImpressionLogTests.Options(_dir.Path), 0, Count);
        var first = Path.Combine(_dir.Path, "log", "impressions.log.0"); // docs/storage.md: log/impressions.log.N
        Assert.True(File.Exists(first));

        using var snapshot = ImpressionLogSnapshotReader.Open(_dir.Path, pageBytes: 64L << 10, segmentBytes: Segment);
        Assert.True(snapshot.BeginAddress < Segment, $"begin {snapshot.BeginAddress}");
        File.Delete(first);

        var values = new List<long>();
        snapshot.ReadFrom(0, new Values(values));

        Assert.False(File.Exists(first), "the reader re-created the deleted segment");
        Assert.NotEmpty(values);
        Assert.True(values[0] > 0, "the deleted segment's entries cannot be read");
        Assert.Equal(Count - 1, values[^1]);
        for (var i = 1; i < values.Count; i++)
        {
            Assert.Equal(values[i - 1] + 1, values[i]);
        }
    }

    [Fact]
    public void RetainBytes_ReaderHoldsRetention_NothingUnacknowledgedRotated_ThenRotationResumes()
    {
        using var log = ImpressionLog.Open(Rotating(_dir.Path, []));
        var reader = log.OpenReader("shipper", holdsRetention: true);
        Append(log, 0, 1_000);
        log.Commit();
        Assert.Equal(1_000, ReadAndAcknowledge(reader).Count);
        log.Commit(); // an acknowledgement takes effect (and is persisted) with the next commit
        var floor = reader.AcknowledgedUntil;
        Assert.True(floor > ImpressionLogTests.Options(_dir.Path).PageBytes / 2, $"acknowledged {floor}");

        Append(log, 1_000, 30_000); // ~1.9 MB, far beyond RetainBytes (512 KB)
        log.Commit();
        WaitFor(() => log.RetentionHeldBytes > 0, "rotation is held by the reader");
        Assert.True(log.BeginAddress <= floor, $"begin {log.BeginAddress} rotated above the reader's floor {floor}");
        Assert.Equal(0, log.RotatedSegments);

        var rest = ReadAndAcknowledge(reader);
        Assert.Equal(Enumerable.Range(1_000, 30_000).Select(i => (long)i), rest);

        // Acknowledged: the next commits rotate down to about RetainBytes.
        WaitFor(() => log.RotatedSegments > 0 && log.TailAddress - log.BeginAddress <= (512L << 10) + Segment, "rotation resumes once acknowledged", log.Commit);
        Assert.Equal(0, log.RetentionHeldBytes);
    }

    [Fact]
    public void RetentionReaders_AfterRestart_FloorHoldsBeforeTheConsumerReopens()
    {
        long floor;
        using (var log = ImpressionLog.Open(Rotating(_dir.Path, ["shipper"])))
        {
            Append(log, 0, 1_000);
            log.Commit();
            var reader = log.OpenReader("shipper", holdsRetention: true);
            Assert.Equal(1_000, ReadAndAcknowledge(reader).Count);
            log.Commit();
            floor = reader.AcknowledgedUntil;
            Append(log, 1_000, 30_000);
            log.Commit();
        }

        using (var log = ImpressionLog.Open(Rotating(_dir.Path, ["shipper"])))
        {
            // The consumer has not opened its reader yet; the committer rotates on every loop.
            Append(log, 31_000, 100);
            log.Commit();
            Thread.Sleep(200);
            log.Commit();
            Assert.True(log.BeginAddress <= floor, $"begin {log.BeginAddress} rotated above the restored floor {floor}");
            Assert.Equal(floor, log.RetentionFloor);

            var rest = ReadAndAcknowledge(log.OpenReader("shipper", holdsRetention: true));
            Assert.Equal(Enumerable.Range(1_000, 30_100).Select(i => (long)i), rest);
        }
    }

    private static ImpressionLogOptions Rotating(string directory, IReadOnlyList<string> retentionReaders) => new()
    {
        DataDirectory = directory,
        MemoryBytes = 1L << 20,
        PageBytes = 64L << 10,
        SegmentBytes = Segment,
        CommitInterval = TimeSpan.FromMilliseconds(5),
        CommitBytes = 64L << 10,
        RetainBytes = 512L << 10,
        RetentionReaders = retentionReaders,
    };

    private static List<long> ReadAndAcknowledge(ImpressionLogReader reader)
    {
        var values = new List<long>();
        while (reader.TryReadNext(new Values(values)))
        {
        }

        reader.Acknowledge(reader.NextAddress);
        return values;
    }

    private static void WaitFor(Func<bool> condition, string what, Action? poke = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60); // generous: a loaded 2-core machine
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            poke?.Invoke();
            Thread.Sleep(10);
        }
    }

    internal static void Append(ImpressionLogOptions options, int start, int count)
    {
        using var log = ImpressionLog.Open(options);
        Append(log, start, count);
        log.Commit();
    }

    internal static void Append(ImpressionLog log, int start, int count)
    {
        var record = new byte[ImpressionLogCrashHelper.RecordBytes];
        for (int i = start; i < start + count; i++)
        {
            ImpressionLogCrashHelper.Fill(record, (ulong)i);
            while (!log.TryEnqueue(record, out _))
            {
                Thread.Yield();
            }
        }
    }

    /// <summary>Collects each entry's sequence number (-1 for an entry that fails its check).</summary>
    private readonly struct Values(List<long> values) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            var value = BinaryPrimitives.ReadUInt64LittleEndian(record);
            values.Add(ImpressionLogCrashHelper.Check(record, value) ? (long)value : -1);
        }
    }
}
