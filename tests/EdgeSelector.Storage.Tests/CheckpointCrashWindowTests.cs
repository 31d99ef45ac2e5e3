using System.Diagnostics;
using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Internal;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>
/// Both KV stores write a checkpoint's metadata files off FASTER's state machine (<see cref="DeferredCommitCheckpointManager"/>,
/// docs/storage.md, "Checkpoints and recovery"): FASTER completes the checkpoint first, so a write is reported durable
/// only once the metadata is on disk and the integrity record written, and a failure in between undoes it.
/// </summary>
public sealed class CheckpointCrashWindowTests : IDisposable
{
    private const string MetadataFile = "info.dat"; // FASTER's checkpoint metadata, index and log (DefaultCheckpointNamingScheme)
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    private static readonly uint[] Titles = [.. Enumerable.Range(1, 64).Select(i => (uint)i)];

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

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
}
