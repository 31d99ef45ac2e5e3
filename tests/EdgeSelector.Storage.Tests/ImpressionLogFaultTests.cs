using System.Diagnostics;
using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Impressions;
using EdgeSelector.Testing;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>
/// The log on a failing disk (injected write failures and a real full tmpfs) and with damaged files: it stalls rather
/// than fails, resumes by itself, closes within its bound, and never reads damage silently (docs/reliability.md).
/// </summary>
public sealed class ImpressionLogFaultTests : IDisposable
{
    private static int _readers;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task FailingWrites_CommitsStallAndResumeWhenTheDiskRecovers_NothingIsLost()
    {
        var faults = new StorageFaults();
        using (var log = ImpressionLog.Open(Options(_dir.Path, faults)))
        {
            Append(log, 0, 1_000);
            log.Commit();
            var committed = log.CommittedUntilAddress;

            faults.FailWrites = true;
            var last = Append(log, 1_000, 1_000);
            await WaitUntil(() => log.Health.IsWriteStalled, TimeSpan.FromSeconds(10));
            Assert.Equal(committed, log.CommittedUntilAddress);
            Assert.True(log.LagBytes > 0);
            Assert.False(log.IsHealthy);
            Assert.Contains("impressions: writes failing", log.Health.Describe());

            faults.FailWrites = false;
            await log.WaitForCommitAsync(last).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            await WaitUntil(() => log.IsHealthy, TimeSpan.FromSeconds(10));
            Assert.Equal(0, log.LagBytes);
            Assert.Null(log.Health.Describe());
        }

        using var reopened = ImpressionLog.Open(Options(_dir.Path));
        Assert.Equal(StoreOpenOutcome.Recovered, reopened.OpenReport.Outcome);
        Assert.Equal(2_000, CountEntries(reopened));
    }

    [Fact]
    public async Task TryCommitAsync_WhileWritesFail_FalseWithinItsBound_ThenTrueAndDurableOnceTheDiskRecovers()
    {
        var faults = new StorageFaults();
        using var log = ImpressionLog.Open(Options(_dir.Path, faults) with { CloseTimeout = TimeSpan.FromMilliseconds(300) });
        var first = Append(log, 0, 500);
        Assert.True(await log.TryCommitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(log.IsCommitted(first));
        var committed = log.CommittedUntilAddress;

        // No write reaches the disk: the commit cannot finish, so the bounded wait gives up (with no time left at all,
        // and with some), and nothing new is reported durable.
        faults.FailWrites = true;
        var last = Append(log, 500, 500);
        Assert.False(await log.TryCommitAsync(TimeSpan.Zero));
        Assert.False(await log.TryCommitAsync(TimeSpan.FromMilliseconds(200)));
        Assert.False(log.IsCommitted(last));
        Assert.Equal(committed, log.CommittedUntilAddress);

        faults.FailWrites = false;
        Assert.True(await log.TryCommitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(log.IsCommitted(last));
        Assert.Equal(0, log.LagBytes);
    }

    [Fact]
    public void FailingWrites_BufferFills_TryEnqueueReturnsFalseWithoutThrowing()
    {
        var faults = new StorageFaults { FailWrites = true };
        using var log = ImpressionLog.Open(Options(_dir.Path, faults) with { CloseTimeout = TimeSpan.FromMilliseconds(200) });
        var record = new byte[ImpressionLogCrashHelper.RecordBytes];
        int refused = 0;
        for (int i = 0; i < 100_000 && refused == 0; i++)
        {
            if (!log.TryEnqueue(record, out _))
            {
                refused++;
            }
        }

        Assert.Equal(1, refused); // 1 MB of memory holds ~17,000 entries of 48 bytes, and nothing is flushed
    }

    [Fact]
    public void Dispose_WhileWritesFail_ReturnsWithinItsBound_AndKeepsWhatWasCommitted()
    {
        var faults = new StorageFaults();
        var log = ImpressionLog.Open(Options(_dir.Path, faults) with { CloseTimeout = TimeSpan.FromMilliseconds(300) });
        Append(log, 0, 500);
        log.Commit();
        faults.FailWrites = true;
        Append(log, 500, 500);

        var watch = Stopwatch.StartNew();
        log.Dispose();
        watch.Stop();

        // Bound: committer stop + two close timeouts, plus slack for a loaded machine.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"Dispose took {watch.Elapsed}");
        using var reopened = ImpressionLog.Open(Options(_dir.Path));
        Assert.True(CountEntries(reopened) >= 500);
    }

    [SkippableFact]
    public async Task RealDiskFull_OnTmpfs_StallsThenResumesWhenSpaceIsFreed()
    {
        using var disk = Tmpfs.TryMount(16, out var reason);
        Skip.If(disk is null, reason);
        var directory = Path.Combine(disk!.Path, "impressions");
        using (var log = ImpressionLog.Open(Options(directory) with { MemoryBytes = 4L << 20 }))
        {
            Append(log, 0, 1_000);
            log.Commit();
            var ballast = disk.Fill(leaveBytes: 0);

            // Append until the disk refuses: memory fills because nothing can be flushed.
            var record = new byte[ImpressionLogCrashHelper.RecordBytes];
            long next = 1_000, last = 0;
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                ImpressionLogCrashHelper.Fill(record, (ulong)next);
                if (!log.TryEnqueue(record, out var address))
                {
                    break;
                }

                last = address;
                next++;
            }

            await WaitUntil(() => log.Health.IsWriteStalled, TimeSpan.FromSeconds(10));
            Assert.Contains("no space left", log.Health.LastError);
            Assert.False(log.IsCommitted(last));

            File.Delete(ballast);
            await log.WaitForCommitAsync(last).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            await WaitUntil(() => log.IsHealthy, TimeSpan.FromSeconds(10));
            Assert.Equal(next, CountEntries(log));
        }
    }

    [Theory]
    [InlineData("delete-commit")]
    [InlineData("empty-commit")]
    [InlineData("delete-segment")]
    [InlineData("truncate-segment")]
    [InlineData("flip-segment")]
    public void Open_DamagedFiles_QuarantinesTheLogAndStartsANewOneAboveIt(string damage)
    {
        long committed;
        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            Append(log, 0, 20_000);
            log.Commit();
            committed = log.CommittedUntilAddress;
        }

        Damage(_dir.Path, damage);
        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            Assert.Equal(StoreOpenOutcome.Quarantined, log.OpenReport.Outcome);
            Assert.True(Directory.Exists(log.OpenReport.QuarantinedTo));
            Assert.True(log.BeginAddress >= committed, $"new log begins at {log.BeginAddress}, below the old one's {committed}");
            Append(log, 0, 10);
            log.Commit();
        }

        // The new log survives a restart at its new addresses.
        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            Assert.Equal(StoreOpenOutcome.Recovered, log.OpenReport.Outcome);
            Assert.Equal(10, CountEntries(log));
            Assert.True(log.BeginAddress >= committed);
        }
    }

    [Fact]
    public void Open_DamagedWithRefusePolicy_ThrowsNamingTheFile()
    {
        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            Append(log, 0, 5_000);
            log.Commit();
        }

        Damage(_dir.Path, "truncate-segment");
        var e = Assert.Throws<LogDamagedException>(() => ImpressionLog.Open(Options(_dir.Path) with { OnDamage = DamagePolicy.Refuse }));
        Assert.Contains("impressions.log.", e.Message);
        Assert.Contains("impressions.log.", e.FilePath);
    }

    [Fact]
    public void SnapshotReader_DamagedEntry_ThrowsLogDamagedExceptionNamingFileAndAddress()
    {
        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            Append(log, 0, 20_000);
            log.Commit();
        }

        Damage(_dir.Path, "flip-segment");
        using var reader = ImpressionLogSnapshotReader.Open(_dir.Path, pageBytes: 64L << 10, segmentBytes: 256L << 10);
        var count = new Counter();
        var e = Assert.Throws<LogDamagedException>(() => reader.ReadFrom(0, count));
        Assert.Contains("impressions.log.", e.FilePath);
        Assert.True(e.Address > 0);
        Assert.True(count.Box.Count > 0, "entries before the damage are handed over");
    }

    [Fact]
    public void SnapshotReader_MissingCommitRecord_ThrowsLogDamagedException()
    {
        using (var log = ImpressionLog.Open(Options(_dir.Path)))
        {
            Append(log, 0, 1_000);
            log.Commit();
        }

        Damage(_dir.Path, "delete-commit");
        var e = Assert.Throws<LogDamagedException>(() => ImpressionLogSnapshotReader.Open(_dir.Path, pageBytes: 64L << 10, segmentBytes: 256L << 10));
        Assert.Contains("commit record", e.Message);
    }

    internal static ImpressionLogOptions Options(string directory, StorageFaults? faults = null) =>
        ImpressionLogTests.Options(directory) with { Faults = faults, Name = "impressions" };

    internal static void Damage(string root, string damage)
    {
        var commits = Directory.GetFiles(Path.Combine(root, "commits"), "*", SearchOption.AllDirectories);
        var segments = Directory.GetFiles(Path.Combine(root, "log"), "impressions.log.*").OrderBy(f => f, StringComparer.Ordinal).ToArray();
        var segment = segments[^1];
        switch (damage)
        {
            case "delete-commit":
                Array.ForEach(commits, File.Delete);
                break;
            case "empty-commit":
                Array.ForEach(commits, f => File.WriteAllBytes(f, []));
                break;
            case "delete-segment":
                File.Delete(segment);
                break;
            case "truncate-segment":
                using (var stream = File.OpenWrite(segment))
                {
                    stream.SetLength(stream.Length / 2);
                }

                break;
            case "flip-segment":
                var bytes = File.ReadAllBytes(segment);
                bytes[bytes.Length / 3] ^= 0x5A;
                File.WriteAllBytes(segment, bytes);
                break;
        }
    }

    private static long Append(ImpressionLog log, int start, int count)
    {
        var record = new byte[ImpressionLogCrashHelper.RecordBytes];
        long last = 0;
        for (int i = start; i < start + count; i++)
        {
            ImpressionLogCrashHelper.Fill(record, (ulong)i);
            var spin = Stopwatch.StartNew();
            while (!log.TryEnqueue(record, out last))
            {
                Assert.True(spin.Elapsed < TimeSpan.FromSeconds(30), "the log refused appends for 30 s");
                Thread.Yield();
            }
        }

        return last;
    }

    private static long CountEntries(ImpressionLog log)
    {
        var reader = log.OpenReader("c" + Interlocked.Increment(ref _readers).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var counter = new Counter();
        while (reader.TryReadNext(counter))
        {
        }

        return counter.Box.Count;
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < timeout, "condition not reached in time");
            await Task.Delay(20);
        }
    }

    private sealed class CountBox
    {
        public long Count;
    }

    private readonly struct Counter() : IImpressionConsumer
    {
        public CountBox Box { get; } = new();

        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress) => Box.Count++;
    }
}
