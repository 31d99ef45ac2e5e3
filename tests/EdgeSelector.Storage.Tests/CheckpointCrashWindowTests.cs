using System.Diagnostics;
using System.Globalization;
using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Internal;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>
/// Both KV stores write a checkpoint's metadata files off FASTER's state machine (<see cref="DeferredCommitCheckpointManager"/>,
/// docs/storage.md, "Checkpoints and recovery"): FASTER completes the checkpoint first, so a write is reported durable
/// only once the metadata is on disk and the integrity record written; a crash after the metadata and before the record
/// leaves a checkpoint <c>Open</c> must not use, recovering the newest recorded one with every durable write in it. The
/// crash is the directory copied at that point (<see cref="KvCheckpoints.BeforeRecord"/>), with every file the process
/// had written, which is what a kill -9 leaves (the kernel keeps the written pages).
/// </summary>
public sealed class CheckpointCrashWindowTests : IDisposable
{
    private const string MetadataFile = "info.dat"; // FASTER's checkpoint metadata, index and log (DefaultCheckpointNamingScheme)
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    private static readonly uint[] Titles = [.. Enumerable.Range(1, 64).Select(i => (uint)i)];

    private readonly TempDirectory _dir = new();
    private readonly TempDirectory _crash = new();

    public void Dispose()
    {
        _dir.Dispose();
        _crash.Dispose();
    }

    [Fact]
    public async Task ModelPush_WhileTheCheckpointMetadataWriteIsRetried_IsPendingAndNotServed_UntilItIsWritten()
    {
        var faults = new StorageFaults { FileFilter = MetadataFile };
        using var store = ModelStore.Open(ModelOptions(_dir.Path) with { Faults = faults });
        Assert.True(Push(store, 1, Long).IsDurable);
        int records = Records(_dir.Path);

        faults.FailWrites = true; // only the metadata writes: FASTER's checkpoint itself completes
        var result = Push(store, 2, TimeSpan.FromMilliseconds(500));
        Assert.Equal(StoreWriteStatus.Pending, result.Status);
        Assert.Equal(1UL, store.Version);
        Assert.Equal(1UL, ReadVersion(store, 1));
        Assert.Equal(records, Records(_dir.Path)); // no integrity record before the metadata is on disk

        faults.FailWrites = false;
        var watch = Stopwatch.StartNew();
        while (store.Version != 2)
        {
            Assert.True(watch.Elapsed < Long, "the pending push never took effect");
            await Task.Delay(20);
        }

        Assert.Null(store.PendingWrite);
        Assert.Equal(2UL, ReadVersion(store, 64));
        store.Dispose();

        using var reopened = ModelStore.Open(ModelOptions(_dir.Path));
        Assert.Equal(StoreOpenOutcome.Recovered, reopened.OpenReport.Outcome);
        Assert.Equal(2UL, reopened.Version);
    }

    [Fact]
    public async Task ProfileImport_WhileTheCheckpointMetadataWriteIsRetried_IsPending_UntilItIsWritten()
    {
        var faults = new StorageFaults { FileFilter = MetadataFile };
        using var store = ProfileStore.Open(ProfileCheckpointTests.Options(_dir.Path) with { Faults = faults });
        Assert.True(Import(store, 0, 1_000, Long).IsDurable);
        long checkpointed = store.CheckpointedWrites;
        int records = Records(_dir.Path);

        faults.FailWrites = true;
        var result = Import(store, 1_000, 1_000, TimeSpan.FromMilliseconds(500));
        Assert.Equal(StoreWriteStatus.Pending, result.Status);
        Assert.Equal(checkpointed, store.CheckpointedWrites);
        Assert.Equal(records, Records(_dir.Path));

        faults.FailWrites = false;
        var watch = Stopwatch.StartNew();
        while (store.CheckpointedWrites == checkpointed)
        {
            Assert.True(watch.Elapsed < Long, "the pending import never became durable");
            await Task.Delay(20);
        }

        Assert.Null(store.LastCheckpointFailure);
        store.Dispose();

        using var reopened = ProfileStore.Open(ProfileCheckpointTests.Options(_dir.Path));
        Assert.Equal(StoreOpenOutcome.Recovered, reopened.OpenReport.Outcome);
        AssertImported(reopened, 0, 2_000);
    }

    [Theory]
    [InlineData("push")]
    [InlineData("rollback")]
    [InlineData("periodic")]
    public void ModelStore_CrashAfterTheMetadataBeforeTheIntegrityRecord_OpenRecoversTheLastDurableBundle(string change)
    {
        // 1 MB per bundle over 1 MB segments: every push compacts the log and a checkpoint truncates segment files, so
        // the recovered checkpoint's segments must survive the unrecorded one's truncation.
        bool periodic = change == "periodic";
        var options = ModelOptions(_dir.Path) with
        {
            CheckpointOnChange = !periodic,
            CheckpointInterval = periodic ? TimeSpan.FromMilliseconds(50) : null,
        };
        using var crashed = new ManualResetEventSlim();
        using (var store = ModelStore.Open(options))
        {
            for (ulong v = 1; v <= 4; v++)
            {
                Push(store, v);
            }

            if (periodic)
            {
                // A checkpoint that starts after the push ended holds it (checkpoints and pushes share the push lock).
                long newest = NewestRecord(_dir.Path);
                var watch = Stopwatch.StartNew();
                while (NewestRecord(_dir.Path) == newest)
                {
                    Assert.True(watch.Elapsed < Long, "no periodic checkpoint after the last push");
                    Thread.Sleep(10);
                }
            }

            ((IKvLifecycle)store).Checkpoints.BeforeRecord = () =>
            {
                CopyDirectory(_dir.Path, _crash.Path);
                crashed.Set();
            };
            if (change == "rollback")
            {
                Assert.True(store.Rollback());
            }
            else
            {
                Push(store, 5); // periodic: no checkpoint of its own; the timer's next one is the crash
            }

            Assert.True(crashed.Wait(Long), "the crash point was never reached");
        }

        using var recovered = ModelStore.Open(ModelOptions(_crash.Path));
        Assert.True(recovered.OpenReport.Outcome == StoreOpenOutcome.RecoveredEarlier, recovered.OpenReport.Message);
        Assert.Contains("without an integrity record were not recovered", recovered.OpenReport.Message);
        Assert.Equal(4UL, recovered.Version);
        Assert.Equal([2UL, 3UL, 4UL], recovered.Generations.Select(g => g.Version));
        foreach (uint title in Titles)
        {
            Assert.Equal(4UL, ReadVersion(recovered, title));
        }

        // The earlier bundles it kept are whole too, and the store goes on: the next push is recorded and recovered.
        Assert.True(recovered.Rollback());
        Assert.Equal(3UL, ReadVersion(recovered, 64));
        Push(recovered, 6);
        recovered.Dispose();

        using var reopened = ModelStore.Open(ModelOptions(_crash.Path));
        Assert.True(reopened.OpenReport.Outcome == StoreOpenOutcome.Recovered, reopened.OpenReport.Message);
        Assert.Equal(6UL, reopened.Version);
        Assert.Equal(6UL, ReadVersion(reopened, 1));
    }

    [Fact]
    public void ProfileStore_CrashAfterTheMetadataBeforeTheIntegrityRecord_OpenRecoversEveryDurableWrite()
    {
        using (var store = ProfileStore.Open(ProfileCheckpointTests.Options(_dir.Path)))
        {
            // A full checkpoint, then log-only ones over it (imports): the crash hits a log-only one, the periodic kind.
            for (int batch = 0; batch < 3; batch++)
            {
                Assert.True(Import(store, batch * 1_000, 1_000, Long).IsDurable);
            }

            Assert.Equal(1, store.IndexCheckpointsTaken);
            ((IKvLifecycle)store).Checkpoints.BeforeRecord = () => CopyDirectory(_dir.Path, _crash.Path);
            Assert.True(Import(store, 3_000, 1_000, Long).IsDurable);
        }

        Assert.True(Directory.Exists(Path.Combine(_crash.Path, "integrity")), "the crash point was never reached");
        using (var recovered = ProfileStore.Open(ProfileCheckpointTests.Options(_crash.Path)))
        {
            Assert.True(recovered.OpenReport.Outcome == StoreOpenOutcome.RecoveredEarlier, recovered.OpenReport.Message);
            Assert.Contains("without an integrity record were not recovered", recovered.OpenReport.Message);
            AssertImported(recovered, 0, 3_000);
            for (int id = 3_000; id < 4_000; id++)
            {
                Assert.False(recovered.TryGet((ulong)id, out _), $"member {id} is only in the unrecorded checkpoint");
            }

            Assert.True(Import(recovered, 4_000, 1_000, Long).IsDurable);
        }

        using var reopened = ProfileStore.Open(ProfileCheckpointTests.Options(_crash.Path));
        Assert.True(reopened.OpenReport.Outcome == StoreOpenOutcome.Recovered, reopened.OpenReport.Message);
        AssertImported(reopened, 0, 3_000);
        AssertImported(reopened, 4_000, 1_000);
    }

    [Fact]
    public void ModelPush_FailureBetweenTheMetadataAndTheIntegrityRecord_IsUndone_AndNotRecovered()
    {
        using (var store = ModelStore.Open(ModelOptions(_dir.Path)))
        {
            Push(store, 1);
            ((IKvLifecycle)store).Checkpoints.BeforeRecord = () => throw new IOException("metadata write failed");
            var writer = store.TryBeginBundle(2, partial: false, Long, out _)!;
            using (writer)
            {
                writer.Add(1, ModelStoreTests.MakeModel(2, 1, 100));
                var result = writer.Commit(Long, out _);
                Assert.Equal(StoreWriteStatus.Failed, result.Status);
                Assert.Contains("metadata write failed", result.Reason);
            }

            Assert.Equal(1UL, store.Version);
            Assert.Equal(1UL, ReadVersion(store, 1));
        }

        using var reopened = ModelStore.Open(ModelOptions(_dir.Path));
        Assert.Equal(1UL, reopened.Version);
    }

    private static ModelStoreOptions ModelOptions(string directory) => new()
    {
        DataDirectory = directory,
        MemoryBytes = 16L << 20,
        PageBytes = 256L << 10,
        SegmentBytes = 1L << 20,
        IndexBytes = 1L << 20,
        MaxGenerations = 3,
        Readers = [ModelReader.For<ModelStoreTests.ModelProbe>()],
    };

    private static void Push(ModelStore store, ulong version) =>
        Assert.True(Push(store, version, Long).IsDurable, $"push of bundle {version} not durable");

    private static StoreWriteResult Push(ModelStore store, ulong version, TimeSpan within)
    {
        using var writer = store.TryBeginBundle(version, partial: false, within, out var reason)
            ?? throw new InvalidOperationException(reason);
        foreach (uint title in Titles)
        {
            writer.Add(title, ModelStoreTests.MakeModel(version, title, 16 << 10));
        }

        return writer.Commit(within, out _);
    }

    private static ulong ReadVersion(ModelStore store, uint title)
    {
        var visitor = default(ModelStoreTests.ModelProbe);
        Assert.True(store.TryRead(title, ref visitor), $"title {title} not found");
        Assert.True(visitor.PatternOk, $"title {title} damaged");
        return visitor.Version;
    }

    private static StoreWriteResult Import(ProfileStore store, int first, int count, TimeSpan within)
    {
        var (ids, profiles) = NumberedProfiles.Batch(first, count);
        return store.UpsertManyDurable(ids, profiles, within);
    }

    private static void AssertImported(ProfileStore store, int first, int count)
    {
        for (int id = first; id < first + count; id++)
        {
            Assert.True(store.TryGet((ulong)id, out var profile), $"member {id} lost");
            Assert.Equal((ushort)id, profile.Country);
        }
    }

    private static int Records(string directory) => KvCheckpoints.RecordsIn(Path.Combine(directory, "integrity")).Count();

    /// <summary>The sequence number of the newest integrity record (0: none); records are numbered, never reused.</summary>
    private static long NewestRecord(string directory) =>
        KvCheckpoints.RecordsIn(Path.Combine(directory, "integrity")).Select(r => long.Parse(Path.GetFileNameWithoutExtension(r), CultureInfo.InvariantCulture)).FirstOrDefault();
}
