using System.Diagnostics;
using EdgeSelector.Core.Features;
using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;
using EdgeSelector.Testing;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>
/// The model and profile stores on a failing disk and with damaged files: a write is acknowledged only once durable,
/// a write that cannot be made durable never serves and never survives as a surprise, and damage at open is reported,
/// never recovered silently (docs/reliability.md).
/// </summary>
public sealed class KvStoreFaultTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Push_Durable_SurvivesReopenWithoutShutdownCheckpoint()
    {
        using (var store = OpenModels())
        {
            Assert.Equal(StoreOpenOutcome.Created, store.OpenReport.Outcome);
            Assert.Equal(StoreWriteStatus.Durable, Push(store, 1, TimeSpan.FromSeconds(30)).Status);
        }

        // Dispose takes no checkpoint: what the reopened store has is what the push made durable.
        using var reopened = OpenModels();
        Assert.Equal(StoreOpenOutcome.Recovered, reopened.OpenReport.Outcome);
        Assert.Equal(1UL, reopened.Version);
    }

    [Fact]
    public async Task Push_WhileWritesFail_IsPendingNeverServesUntilDurable_ThenTakesEffect()
    {
        var faults = new StorageFaults();
        using var store = OpenModels(faults);
        Assert.True(Push(store, 1, TimeSpan.FromSeconds(30)).IsDurable);

        faults.FailWrites = true;
        var result = Push(store, 2, TimeSpan.FromMilliseconds(300));
        Assert.Equal(StoreWriteStatus.Pending, result.Status);
        Assert.Contains("push of bundle 2", result.Reason);
        Assert.Equal(1UL, store.Version); // not served: not durable
        Assert.NotNull(store.PendingWrite);

        // Meanwhile every other write is refused at once, with the reason.
        Assert.Null(store.TryBeginBundle(3, partial: false, TimeSpan.FromMilliseconds(100), out var reason));
        Assert.False(string.IsNullOrEmpty(reason));
        Assert.Equal(StoreWriteStatus.Busy, store.TryRollback(TimeSpan.FromMilliseconds(100)).Status);

        faults.FailWrites = false;
        var watch = Stopwatch.StartNew();
        while (store.Version != 2)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), "the pending push never took effect");
            await Task.Delay(20);
        }

        Assert.Null(store.PendingWrite);
        Assert.True(Push(store, 3, TimeSpan.FromSeconds(30)).IsDurable);
    }

    [Fact]
    public void Push_PendingWhenTheProcessStops_IsNotActiveAfterRestart()
    {
        var faults = new StorageFaults();
        using (var store = OpenModels(faults, closeTimeout: TimeSpan.FromMilliseconds(200)))
        {
            Assert.True(Push(store, 1, TimeSpan.FromSeconds(30)).IsDurable);
            faults.FailWrites = true;
            Assert.Equal(StoreWriteStatus.Pending, Push(store, 2, TimeSpan.FromMilliseconds(200)).Status);
            var watch = Stopwatch.StartNew();
            store.Dispose();
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"Dispose took {watch.Elapsed}");
        }

        using var reopened = OpenModels();
        Assert.Equal(1UL, reopened.Version);
    }

    [Fact]
    public void Rollback_Durable_SurvivesReopen()
    {
        using (var store = OpenModels())
        {
            Push(store, 1, TimeSpan.FromSeconds(30));
            Push(store, 2, TimeSpan.FromSeconds(30));
            Assert.Equal(StoreWriteStatus.Durable, store.TryRollback(TimeSpan.FromSeconds(30)).Status);
            Assert.Equal(StoreWriteStatus.Nothing, store.TryRollback(TimeSpan.FromSeconds(30)).Status);
        }

        using var reopened = OpenModels();
        Assert.Equal(1UL, reopened.Version);
    }

    [Fact]
    public void Metadata_CommittedWithABundle_IsReadBackAfterReopen_AndUndoneWithAFailedPush()
    {
        using (var store = OpenModels())
        {
            using (var writer = store.BeginBundle(1))
            {
                writer.Add(1, ModelStoreTests.MakeModel(1, 1, 64));
                writer.SetMetadata(7, "seven"u8);
                writer.Commit();
            }

            Assert.True(store.TryWriteMetadata(9, "nine"u8, TimeSpan.FromSeconds(30)).IsDurable);
        }

        using var reopened = OpenModels();
        Assert.True(reopened.TryGetMetadata(7, out var seven));
        Assert.Equal("seven"u8.ToArray(), seven);
        Assert.True(reopened.TryGetMetadata(9, out var nine));
        Assert.Equal("nine"u8.ToArray(), nine);
        Assert.False(reopened.TryGetMetadata(8, out _));
    }

    [Fact]
    public void Profiles_UpsertManyDurable_SurvivesReopen_AndIsPendingWhileWritesFail()
    {
        var faults = new StorageFaults();
        using (var store = OpenProfiles(faults))
        {
            Assert.Equal(StoreWriteStatus.Durable, Import(store, 1, 100, TimeSpan.FromSeconds(30)).Status);
            Assert.Equal(StoreWriteStatus.Durable, Import(store, 101, 100, TimeSpan.FromSeconds(30)).Status);
            faults.FailWrites = true;
            Assert.Equal(StoreWriteStatus.Pending, Import(store, 201, 100, TimeSpan.FromMilliseconds(200)).Status);
            Assert.True(store.IsCheckpointPending);
            Assert.Equal(StoreWriteStatus.Busy, Import(store, 301, 100, TimeSpan.FromMilliseconds(100)).Status);
            faults.FailWrites = false;
            var watch = Stopwatch.StartNew();
            while (store.IsCheckpointPending)
            {
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), "the pending checkpoint never completed");
                Thread.Sleep(20);
            }
        }

        using var reopened = OpenProfiles();
        Assert.True(reopened.OpenReport.Outcome == StoreOpenOutcome.Recovered, reopened.OpenReport.Message);
        for (ulong member = 1; member <= 300; member++)
        {
            Assert.True(reopened.TryGet(member, out var profile), $"member {member} lost");
            Assert.Equal((ushort)member, profile.Country);
        }
    }

    [SkippableFact]
    public async Task RealDiskFull_OnTmpfs_PushIsPendingThenTakesEffectWhenSpaceIsFreed()
    {
        using var disk = Tmpfs.TryMount(24, out var reason);
        Skip.If(disk is null, reason);
        using var store = ModelStore.Open(ModelOptions(Path.Combine(disk!.Path, "models")));
        Assert.True(Push(store, 1, TimeSpan.FromSeconds(30)).IsDurable);
        Assert.Null(store.CheckSpaceFor(1 << 20));
        var ballast = disk.Fill(leaveBytes: 64 << 10);
        Assert.NotNull(store.CheckSpaceFor(1 << 20));

        var result = Push(store, 2, TimeSpan.FromSeconds(2));
        Assert.Equal(StoreWriteStatus.Pending, result.Status);
        Assert.Equal(1UL, store.Version);
        Assert.True(store.Health.IsWriteStalled);
        Assert.Contains("no space left", store.Health.LastError);

        File.Delete(ballast);
        var watch = Stopwatch.StartNew();
        while (store.Version != 2)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), "the pending push never took effect after space was freed");
            await Task.Delay(20);
        }

        Assert.False(store.Health.IsWriteStalled);
    }

    /// <summary>Every file of a model store with two checkpoints, damaged in turn four ways: the newest checkpoint's files
    /// fall back to the one before, the shared log is quarantined, an integrity record's loss is reported.</summary>
    [Fact]
    public void Models_EveryFileDamagedInTurn_NeverRecoversSilently()
    {
        var template = Path.Combine(_dir.Path, "template");
        using (var store = ModelStore.Open(ModelOptions(template)))
        {
            Push(store, 1, TimeSpan.FromSeconds(30));
            Push(store, 2, TimeSpan.FromSeconds(30));
        }

        var files = Directory.GetFiles(template, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(template, f)).Order(StringComparer.Ordinal).ToList();
        Assert.Contains(files, f => f.Contains("ht.dat", StringComparison.Ordinal));
        Assert.Contains(files, f => f.StartsWith("integrity", StringComparison.Ordinal));
        var failures = new List<string>();
        foreach (var file in files)
        {
            foreach (var damage in Damages)
            {
                var copy = Path.Combine(_dir.Path, "case-" + Guid.NewGuid().ToString("N"));
                CopyDirectory(template, copy);
                if (!Apply(Path.Combine(copy, file), damage))
                {
                    continue;
                }

                using var store = ModelStore.Open(ModelOptions(copy));
                var outcome = store.OpenReport.Outcome;
                var silent = outcome is StoreOpenOutcome.Recovered && store.Version != 2;
                var wrongFallback = outcome == StoreOpenOutcome.RecoveredEarlier && store.Version is not (1 or 2);
                var wrongQuarantine = outcome == StoreOpenOutcome.Quarantined && (store.Version != 0 || !Directory.Exists(store.OpenReport.QuarantinedTo));
                if (silent || wrongFallback || wrongQuarantine || outcome == StoreOpenOutcome.Created)
                {
                    failures.Add($"{damage} {file}: {outcome}, version {store.Version}: {store.OpenReport.Message}");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Profiles_EveryFileDamagedInTurn_NeverRecoversSilently()
    {
        var template = Path.Combine(_dir.Path, "template");
        using (var store = ProfileStore.Open(ProfileOptions(template)))
        {
            Assert.True(Import(store, 1, 500, TimeSpan.FromSeconds(30)).IsDurable);
            Assert.True(Import(store, 501, 500, TimeSpan.FromSeconds(30)).IsDurable);
        }

        var files = Directory.GetFiles(template, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(template, f)).Order(StringComparer.Ordinal).ToList();
        var failures = new List<string>();
        foreach (var file in files)
        {
            foreach (var damage in Damages)
            {
                var copy = Path.Combine(_dir.Path, "case-" + Guid.NewGuid().ToString("N"));
                CopyDirectory(template, copy);
                if (!Apply(Path.Combine(copy, file), damage))
                {
                    continue;
                }

                using var store = ProfileStore.Open(ProfileOptions(copy));
                int found = Enumerable.Range(1, 1000).Count(m => store.TryGet((ulong)m, out _));
                var outcome = store.OpenReport.Outcome;
                bool ok = outcome switch
                {
                    StoreOpenOutcome.Recovered => found == 1000,
                    StoreOpenOutcome.RecoveredEarlier => found is 500 or 1000,
                    StoreOpenOutcome.RecoveredFromLog => found is 500 or 1000,
                    StoreOpenOutcome.Quarantined => found == 0,
                    _ => false,
                };
                if (!ok)
                {
                    failures.Add($"{damage} {file}: {outcome}, {found} profiles: {store.OpenReport.Message}");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Models_DamagedWithRefusePolicy_ThrowsNamingTheFile()
    {
        using (var store = OpenModels())
        {
            Push(store, 1, TimeSpan.FromSeconds(30));
        }

        var log = Directory.GetFiles(Path.Combine(_dir.Path, "log"))[0];
        Apply(log, "flip");
        var e = Assert.Throws<StoreDamagedException>(() => ModelStore.Open(ModelOptions(_dir.Path) with { OnDamage = DamagePolicy.Refuse }));
        Assert.Contains("models.log.0", e.Message);
    }

    private static StoreWriteResult Push(ModelStore store, ulong version, TimeSpan within)
    {
        var writer = store.TryBeginBundle(version, partial: false, within, out var reason);
        if (writer is null)
        {
            return new StoreWriteResult(StoreWriteStatus.Busy, reason);
        }

        using (writer)
        {
            foreach (uint title in new uint[] { 1, 2, 3 })
            {
                writer.Add(title, ModelStoreTests.MakeModel(version, title, 200));
            }

            return writer.Commit(within, out _);
        }
    }

    private static StoreWriteResult Import(ProfileStore store, int first, int count, TimeSpan within)
    {
        var (ids, profiles) = NumberedProfiles.Batch(first, count);
        return store.UpsertManyDurable(ids, profiles, within);
    }

    private ModelStore OpenModels(StorageFaults? faults = null, TimeSpan? closeTimeout = null) =>
        ModelStore.Open(ModelOptions(_dir.Path) with { Faults = faults, CloseTimeout = closeTimeout ?? TimeSpan.FromSeconds(5) });

    private ProfileStore OpenProfiles(StorageFaults? faults = null) => ProfileStore.Open(ProfileOptions(_dir.Path) with { Faults = faults });

    private static ModelStoreOptions ModelOptions(string directory) => new()
    {
        DataDirectory = directory,
        MemoryBytes = 8L << 20,
        PageBytes = 1L << 20,
        SegmentBytes = 4L << 20,
        IndexBytes = 1L << 20,
    };

    private static ProfileStoreOptions ProfileOptions(string directory) => new()
    {
        DataDirectory = directory,
        MemoryBytes = 4L << 20,
        PageBytes = 256L << 10,
        SegmentBytes = 4L << 20,
        IndexBytes = 1L << 20,
    };
}
