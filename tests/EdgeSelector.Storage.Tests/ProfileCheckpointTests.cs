using System.Diagnostics;
using System.Globalization;
using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Internal;
using EdgeSelector.Storage.Profiles;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>
/// The profile store's periodic checkpoints write the hybrid log only, over the last index checkpoint, and the index
/// too once the log has grown past <see cref="ProfileStoreOptions.IndexCheckpointLogBytes"/>; recovery from an index
/// checkpoint and a later log-only one, and the retention that must keep the index checkpoint they share.
/// </summary>
public sealed class ProfileCheckpointTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void PeriodicCheckpoint_AfterWrites_WritesTheLogOnly_AndTheIndexOnceTheLogPassedTheBound()
    {
        using (var store = ProfileStore.Open(Options(_dir.Path, TimeSpan.FromMilliseconds(50), indexCheckpointLogBytes: 1L << 20)))
        {
            ProfileStoreTests.UpsertRange(store, 0, 100);
            WaitUntilCheckpointed(store);
            Assert.Equal(1, store.IndexCheckpointsTaken); // no index checkpoint yet: the first one is full
            long taken = store.CheckpointsTaken;

            ProfileStoreTests.UpsertRange(store, 1_000, 1_000); // 88 KB of log, under the 1 MB bound
            WaitUntilCheckpointed(store);
            Assert.True(store.CheckpointsTaken > taken);
            Assert.Equal(1, store.IndexCheckpointsTaken);

            ProfileStoreTests.UpsertRange(store, 10_000, 20_000); // 1.76 MB: past the bound once, not twice
            WaitUntilCheckpointed(store);
            Assert.Equal(2, store.IndexCheckpointsTaken);

            taken = store.CheckpointsTaken;
            ProfileStoreTests.UpsertRange(store, 50_000, 1_000);
            WaitUntilCheckpointed(store);
            Assert.True(store.CheckpointsTaken > taken);
            Assert.Equal(2, store.IndexCheckpointsTaken);
            Assert.Null(store.LastCheckpointFailure);
        }

        // Closed without a final checkpoint: everything the last periodic one held is recovered.
        using var reopened = ProfileStore.Open(Options(_dir.Path));
        Assert.Equal(StoreOpenOutcome.Recovered, reopened.OpenReport.Outcome);
        AssertPresent(reopened, 0, 100);
        AssertPresent(reopened, 1_000, 1_000);
        AssertPresent(reopened, 10_000, 20_000);
        AssertPresent(reopened, 50_000, 1_000);

        // Both kept records name the second index checkpoint; the first stays as the fallback behind them.
        var named = RecordedTokens(_dir.Path);
        Assert.Equal(3, named.Count);
        Assert.Equal(named[0].Index, named[1].Index);
        Assert.NotEqual(named[0].Index, named[2].Index);
        Assert.Equal(named.Select(r => r.Index).Distinct().Order(), IndexCheckpointDirectories(_dir.Path).Order());
    }

    [Fact]
    public void TryCheckpointLog_FullWithoutAnIndexCheckpoint_ThenLogOnly_ExplicitCheckpointFull()
    {
        using (var store = ProfileStore.Open(Options(_dir.Path)))
        {
            ProfileStoreTests.UpsertRange(store, 0, 1_000);
            Assert.True(store.TryCheckpointLog(TimeSpan.FromSeconds(60)));
            ProfileStoreTests.UpsertRange(store, 1_000, 1_000);
            Assert.True(store.TryCheckpointLog(TimeSpan.FromSeconds(60)));
            Assert.Equal(2, store.CheckpointsTaken);
            Assert.Equal(1, store.IndexCheckpointsTaken);

            store.Checkpoint();
            Assert.Equal(2, store.IndexCheckpointsTaken);
            ProfileStoreTests.UpsertRange(store, 2_000, 1_000);
            Assert.True(store.TryCheckpointLog(TimeSpan.FromSeconds(60)));
            Assert.Equal(2, store.IndexCheckpointsTaken);
        }

        // Recovered from (index checkpoint, later log-only checkpoint): the next one builds on the same index checkpoint.
        using (var reopened = ProfileStore.Open(Options(_dir.Path)))
        {
            Assert.Equal(StoreOpenOutcome.Recovered, reopened.OpenReport.Outcome);
            AssertPresent(reopened, 0, 3_000);
            ProfileStoreTests.UpsertRange(reopened, 3_000, 1_000);
            Assert.True(reopened.TryCheckpointLog(TimeSpan.FromSeconds(60)));
            Assert.Equal(0, reopened.IndexCheckpointsTaken);
        }

        using var again = ProfileStore.Open(Options(_dir.Path));
        Assert.Equal(StoreOpenOutcome.Recovered, again.OpenReport.Outcome);
        AssertPresent(again, 0, 4_000);
        var named = RecordedTokens(_dir.Path);
        Assert.Equal(named[0].Index, named[1].Index);
    }

    [Fact]
    public void Kill9_AfterPeriodicLogOnlyCheckpoints_EveryCheckpointedProfileIsRecovered()
    {
        string host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(ProfileCheckpointCrashHelper).Assembly.Location);
        start.ArgumentList.Add(ProfileCheckpointCrashHelper.Verb);
        start.ArgumentList.Add(_dir.Path);

        int durable = 0;
        long checkpoints = 0, indexCheckpoints = 0;
        using (var child = Process.Start(start)!)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (durable < 8 * ProfileCheckpointCrashHelper.Batch && DateTime.UtcNow < deadline && child.StandardOutput.ReadLine() is { } line)
            {
                // "durable N checkpoints C index I"
                var parts = line.Split(' ');
                if (parts.Length == 6 && parts[0] == "durable")
                {
                    durable = int.Parse(parts[1], CultureInfo.InvariantCulture);
                    checkpoints = long.Parse(parts[3], CultureInfo.InvariantCulture);
                    indexCheckpoints = long.Parse(parts[5], CultureInfo.InvariantCulture);
                }
            }

            child.Kill(entireProcessTree: true); // SIGKILL: no Dispose, no final checkpoint
            child.WaitForExit();
        }

        Assert.True(durable >= 8 * ProfileCheckpointCrashHelper.Batch, $"the child reported only {durable} durable profiles");
        Assert.Equal(1, indexCheckpoints);
        Assert.True(checkpoints >= 8, $"{checkpoints} checkpoints");

        // Every kept record builds on the one index checkpoint, which retention kept.
        var named = RecordedTokens(_dir.Path);
        Assert.All(named, r => Assert.Equal(named[^1].Index, r.Index));
        Assert.Equal([named[^1].Index], IndexCheckpointDirectories(_dir.Path));

        using var store = ProfileStore.Open(Options(_dir.Path));
        Assert.True(store.OpenReport.Outcome is StoreOpenOutcome.Recovered or StoreOpenOutcome.RecoveredEarlier, store.OpenReport.Message);
        AssertPresent(store, 0, durable);
    }

    [Fact]
    public void Open_LatestLogOnlyCheckpointDamaged_RecoversTheOneBefore()
    {
        using (var store = ProfileStore.Open(Options(_dir.Path, TimeSpan.FromMilliseconds(50))))
        {
            for (int batch = 0; batch < 3; batch++)
            {
                ProfileStoreTests.UpsertRange(store, batch * 1_000, 1_000);
                WaitUntilCheckpointed(store);
            }

            Assert.Equal(1, store.IndexCheckpointsTaken);
        }

        var newest = RecordedTokens(_dir.Path)[0];
        Assert.NotEqual(newest.Index, newest.Log);
        var file = Directory.GetFiles(Path.Combine(_dir.Path, "checkpoints", "cpr-checkpoints", newest.Log.ToString("D")), "*", SearchOption.AllDirectories)
            .OrderByDescending(f => new FileInfo(f).Length).First();
        var bytes = File.ReadAllBytes(file);
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(file, bytes);

        using var reopened = ProfileStore.Open(Options(_dir.Path));
        Assert.True(reopened.OpenReport.Outcome == StoreOpenOutcome.RecoveredEarlier, reopened.OpenReport.Message);
        AssertPresent(reopened, 0, 2_000);
        Assert.False(reopened.TryGet(2_999 * 7919, out _)); // only in the damaged checkpoint
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Open_SoleIndexCheckpointDamaged_RecoversFromTheLog_IndexRebuilt_FreshFullCheckpointWritten(bool newestLogDamagedToo)
    {
        using (var store = ProfileStore.Open(Options(_dir.Path, TimeSpan.FromMilliseconds(50))))
        {
            for (int batch = 0; batch < 3; batch++)
            {
                ProfileStoreTests.UpsertRange(store, batch * 1_000, 1_000);
                WaitUntilCheckpointed(store);
            }

            Assert.Equal(1, store.IndexCheckpointsTaken);
        }

        // One index checkpoint, shared by every record: its hash table damaged, nothing to fall back on but the log.
        var records = RecordedTokens(_dir.Path);
        var damagedIndex = records[0].Index;
        Assert.Equal([damagedIndex], IndexCheckpointDirectories(_dir.Path));
        Assert.All(records, r => Assert.Equal(damagedIndex, r.Index));
        Flip(LargestFile(Path.Combine(_dir.Path, "checkpoints", "index-checkpoints", damagedIndex.ToString("D"))));
        if (newestLogDamagedToo)
        {
            Flip(LargestFile(Path.Combine(_dir.Path, "checkpoints", "cpr-checkpoints", records[0].Log.ToString("D"))));
        }

        using (var reopened = ProfileStore.Open(Options(_dir.Path)))
        {
            var report = reopened.OpenReport;
            Assert.True(report.Outcome == StoreOpenOutcome.RecoveredFromLog, report.Message);
            Assert.True(report.IsDamaged);
            Assert.Contains("index rebuilt by a scan of the log", report.Message, StringComparison.Ordinal);
            Assert.Contains("a fresh full checkpoint was written", report.Message, StringComparison.Ordinal);
            Assert.Contains(newestLogDamagedToo ? "an earlier checkpoint" : "the newest checkpoint", report.Message, StringComparison.Ordinal);
            int recovered = newestLogDamagedToo ? 2_000 : 3_000;
            AssertPresent(reopened, 0, recovered);
            Assert.False(reopened.TryGet((ulong)recovered * 7919, out _));
            Assert.Equal(1, reopened.IndexCheckpointsTaken);
            var fresh = RecordedTokens(_dir.Path)[0];
            Assert.Equal(fresh.Index, fresh.Log);
            Assert.NotEqual(damagedIndex, fresh.Index);

            // Writes after it are kept as usual.
            ProfileStoreTests.UpsertRange(reopened, 10_000, 10);
            reopened.Checkpoint();
        }

        using var again = ProfileStore.Open(Options(_dir.Path));
        Assert.True(again.OpenReport.Outcome == StoreOpenOutcome.Recovered, again.OpenReport.Message);
        AssertPresent(again, 0, newestLogDamagedToo ? 2_000 : 3_000);
        AssertPresent(again, 10_000, 10);
    }

    [Fact]
    public void Open_SoleIndexCheckpointAndTheLogDamaged_Quarantined()
    {
        using (var store = ProfileStore.Open(Options(_dir.Path, TimeSpan.FromMilliseconds(50))))
        {
            ProfileStoreTests.UpsertRange(store, 0, 1_000);
            WaitUntilCheckpointed(store);
            ProfileStoreTests.UpsertRange(store, 1_000, 1_000);
            WaitUntilCheckpointed(store);
        }

        var index = RecordedTokens(_dir.Path)[0].Index;
        Flip(LargestFile(Path.Combine(_dir.Path, "checkpoints", "index-checkpoints", index.ToString("D"))));
        Flip(LargestFile(Path.Combine(_dir.Path, "log")), at: 1_000); // in the first page's records, which the record covers

        using var reopened = ProfileStore.Open(Options(_dir.Path));
        Assert.True(reopened.OpenReport.Outcome == StoreOpenOutcome.Quarantined, reopened.OpenReport.Message);
        Assert.False(reopened.TryGet(0, out _));
    }

    private static string LargestFile(string directory) =>
        Directory.GetFiles(directory, "*", SearchOption.AllDirectories).OrderByDescending(f => new FileInfo(f).Length).First();

    private static void Flip(string file, int at = -1)
    {
        var bytes = File.ReadAllBytes(file);
        bytes[at < 0 ? bytes.Length / 2 : at] ^= 0x5A;
        File.WriteAllBytes(file, bytes);
    }

    internal static ProfileStoreOptions Options(string directory, TimeSpan? checkpointInterval = null, long indexCheckpointLogBytes = 64L << 20) => new()
    {
        DataDirectory = directory,
        MemoryBytes = 2L << 20,
        PageBytes = 64L << 10,
        SegmentBytes = 4L << 20,
        IndexBytes = 4L << 20,
        CheckpointInterval = checkpointInterval,
        IndexCheckpointLogBytes = indexCheckpointLogBytes,
    };

    // Bounded: a log-only checkpoint of a few hundred KB on a 50 ms timer completes within seconds on a loaded machine.
    private static void WaitUntilCheckpointed(ProfileStore store)
    {
        long writes = store.Writes;
        var deadline = Stopwatch.StartNew();
        while (store.CheckpointedWrites < writes)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), $"writes {writes}, checkpointed {store.CheckpointedWrites} after 60 s");
            Thread.Sleep(10);
        }
    }

    private static void AssertPresent(ProfileStore store, int first, int count)
    {
        for (int i = first; i < first + count; i++)
        {
            ulong id = (ulong)i * 7919;
            Assert.True(store.TryGet(id, out var profile), $"member {id} lost");
            Assert.Equal(ProfileStoreTests.MakeProfile(id).Country, profile.Country);
        }
    }

    /// <summary>The (index, log) tokens of the integrity records, newest first.</summary>
    private static List<(Guid Index, Guid Log)> RecordedTokens(string directory) =>
        [.. KvCheckpoints.RecordsIn(Path.Combine(directory, "integrity"))
            .Select(record => KvCheckpoints.TokensOf(record) ?? throw new InvalidDataException($"unreadable integrity record {record}"))];

    private static List<Guid> IndexCheckpointDirectories(string directory) =>
        [.. Directory.GetDirectories(Path.Combine(directory, "checkpoints", "index-checkpoints")).Select(d => Guid.Parse(Path.GetFileName(d)))];
}
