using System.Buffers.Binary;
using EdgeSelector.Storage.Impressions;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary><see cref="ImpressionLog.ReadRecent{TConsumer}"/>: the dashboard's read-back of the newest entries.</summary>
public sealed class ImpressionLogRecentTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ReadRecent_ReadsWholeEntriesUpToTheCommittedTail_FromAPageStart()
    {
        using var log = ImpressionLog.Open(ImpressionLogTests.Options(_dir.Path)); // 64 KB pages
        Append(log, 0, 20_000); // 48-byte entries: ~1 MB, many pages
        log.Commit();

        var seen = new List<ulong>();
        var read = log.ReadRecent(100L << 10, int.MaxValue, new Collect(seen));

        Assert.Equal(read, seen.Count);
        // From the start of the page holding tail - 100 KB: between 100 KB and 164 KB of whole 48-byte entries...
        Assert.InRange(seen.Count, (100 << 10) / ImpressionLogCrashHelper.RecordBytes / 2, (164 << 10) / ImpressionLogCrashHelper.RecordBytes + 1);
        // ...in order, consecutive, ending with the last entry appended.
        Assert.Equal(19_999ul, seen[^1]);
        for (var i = 1; i < seen.Count; i++)
        {
            Assert.Equal(seen[i - 1] + 1, seen[i]);
        }
    }

    [Fact]
    public void ReadRecent_StopsAtMaxEntries_AndMovesNoReader()
    {
        using var log = ImpressionLog.Open(ImpressionLogTests.Options(_dir.Path));
        Append(log, 0, 5_000);
        log.Commit();
        var reader = log.OpenReader("trainer");

        var seen = new List<ulong>();
        Assert.Equal(100, log.ReadRecent(1L << 20, 100, new Collect(seen)));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (ulong)i), seen); // the window covers the whole log: from its start

        // The named reader still starts at the first entry.
        var first = new List<ulong>();
        Assert.True(reader.TryReadNext(new Collect(first)));
        Assert.Equal(0ul, first[0]);
    }

    [Fact]
    public void ReadRecent_OnAnEmptyLog_ReadsNothing()
    {
        using var log = ImpressionLog.Open(ImpressionLogTests.Options(_dir.Path));
        Assert.Equal(0, log.ReadRecent(1L << 20, 100, new Collect([])));
    }

    private static void Append(ImpressionLog log, int start, int count)
    {
        var record = new byte[ImpressionLogCrashHelper.RecordBytes];
        for (var i = start; i < start + count; i++)
        {
            ImpressionLogCrashHelper.Fill(record, (ulong)i);
            while (!log.TryEnqueue(record, out _))
            {
                Thread.Sleep(1); // the in-memory buffer is full until the committer catches up
            }
        }
    }

    private readonly struct Collect(List<ulong> seen) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            Assert.Equal(ImpressionLogCrashHelper.RecordBytes, record.Length);
            seen.Add(BinaryPrimitives.ReadUInt64LittleEndian(record));
        }
    }
}
