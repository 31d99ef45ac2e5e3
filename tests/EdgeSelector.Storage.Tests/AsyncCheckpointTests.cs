using EdgeSelector.Core.Features;
using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;
using EdgeSelector.Testing;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>
/// The stores' async write paths hold no thread while a checkpoint waits for the disk (docs/performance.md,
/// "Thread-pool floor"): with the disk failing (<see cref="StorageFaults"/>), a checkpoint cannot complete, so the call
/// must hand back an incomplete task at once, and finish with the same outcome as the blocking call once the disk takes
/// the writes. No timing is asserted: the waits below only bound a test that would otherwise hang.
/// </summary>
public sealed class AsyncCheckpointTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task UpsertManyDurableAsync_WhileTheDiskFails_ReturnsIncomplete_ThenDurableAndSurvivesReopen()
    {
        var faults = new StorageFaults();
        using (var store = OpenProfiles(faults))
        {
            Assert.True((await Import(store, 1, 100, Long)).IsDurable);

            faults.FailWrites = true;
            var import = Import(store, 101, 100, Long);
            Assert.False(import.IsCompleted, "the import blocked its caller until the checkpoint ended");
            Assert.True(store.TryGet(150, out _)); // readable already, durable not yet

            faults.FailWrites = false;
            Assert.Equal(StoreWriteStatus.Durable, (await import.WaitAsync(Long)).Status);
            Assert.False(store.IsCheckpointPending);
        }

        using var reopened = OpenProfiles();
        for (ulong member = 1; member <= 200; member++)
        {
            Assert.True(reopened.TryGet(member, out var profile), $"member {member} lost");
            Assert.Equal((ushort)member, profile.Country);
        }
    }

    [Fact]
    public async Task UpsertManyDurableAsync_NotDurableWithin_IsPending_ThenTheNextIsBusy_AsTheBlockingCall()
    {
        var faults = new StorageFaults();
        using var store = OpenProfiles(faults);
        faults.FailWrites = true;

        var pending = await Import(store, 1, 100, TimeSpan.FromMilliseconds(200)).WaitAsync(Long);
        Assert.Equal(StoreWriteStatus.Pending, pending.Status);
        Assert.StartsWith("profiles: the import is not durable yet", pending.Reason);
        Assert.True(store.IsCheckpointPending);
        Assert.Equal(StoreWriteStatus.Busy, (await Import(store, 101, 100, TimeSpan.FromMilliseconds(100)).WaitAsync(Long)).Status);

        faults.FailWrites = false;
        Assert.True(await store.TryCheckpointLogAsync(Long).WaitAsync(Long)); // waits for the lock the pending one holds
        Assert.False(store.IsCheckpointPending);
    }

    [Fact]
    public async Task TryCheckpointLogAsync_WhileTheDiskFails_ReturnsIncomplete_ThenTrue()
    {
        var faults = new StorageFaults();
        using var store = OpenProfiles(faults);
        store.Upsert(1, new MemberProfile { Country = 1 });
        faults.FailWrites = true;

        var checkpoint = store.TryCheckpointLogAsync(Long);
        Assert.False(checkpoint.IsCompleted, "the checkpoint blocked its caller");

        faults.FailWrites = false;
        Assert.True(await checkpoint.WaitAsync(Long));
        Assert.Equal(store.Writes, store.CheckpointedWrites);
    }

    [Fact]
    public async Task CommitAsync_WhileTheDiskFails_ReturnsIncompleteAndIsNotServed_ThenDurableAndServed()
    {
        var faults = new StorageFaults();
        using var store = OpenModels(faults);
        Assert.True((await Push(store, 1, Long)).IsDurable);

        faults.FailWrites = true;
        var (writer, reason) = await store.TryBeginBundleAsync(2, partial: false, Long).WaitAsync(Long);
        Assert.True(writer is not null, reason);
        Task<StoreWriteResult> commit;
        using (writer)
        {
            writer.Add(1, ModelStoreTests.MakeModel(2, 1, 200));
            commit = writer.CommitAsync(Long, out var info);
            Assert.Equal(2UL, info.Version);
        }

        Assert.False(commit.IsCompleted, "the commit blocked its caller until the checkpoint ended");
        Assert.Equal(1UL, store.Version); // not served before it is durable

        faults.FailWrites = false;
        Assert.Equal(StoreWriteStatus.Durable, (await commit.WaitAsync(Long)).Status);
        Assert.Equal(2UL, store.Version);
    }

    [Fact]
    public async Task TryBeginBundleAsync_WhileAnotherPushHoldsTheLock_ReturnsIncomplete_ThenTheWriter()
    {
        using var store = OpenModels();
        var first = store.BeginBundle(1);
        var second = store.TryBeginBundleAsync(2, partial: false, Long);
        Assert.False(second.IsCompleted, "the push blocked its caller while it waited for the lock");

        first.Dispose(); // aborted: releases the push lock
        var (writer, reason) = await second.WaitAsync(Long);
        Assert.True(writer is not null, reason);
        writer.Dispose();

        var busy = store.BeginBundle(3);
        var (none, why) = await store.TryBeginBundleAsync(4, partial: false, TimeSpan.FromMilliseconds(50)).WaitAsync(Long);
        Assert.Null(none);
        Assert.Equal("models: another push or rollback is running", why);
        busy.Dispose();
    }

    [Fact]
    public async Task TryRollbackAsync_WhileTheDiskFails_ReturnsIncomplete_ThenRolledBack_AndPendingAsTheBlockingCall()
    {
        var faults = new StorageFaults();
        using var store = OpenModels(faults);
        Assert.True((await Push(store, 1, Long)).IsDurable);
        Assert.True((await Push(store, 2, Long)).IsDurable);
        Assert.True((await Push(store, 3, Long)).IsDurable);

        faults.FailWrites = true;
        var rollback = store.TryRollbackAsync(Long);
        Assert.False(rollback.IsCompleted, "the rollback blocked its caller until the checkpoint ended");
        Assert.Equal(3UL, store.Version);
        faults.FailWrites = false;
        Assert.Equal(StoreWriteStatus.Durable, (await rollback.WaitAsync(Long)).Status);
        Assert.Equal(2UL, store.Version);

        faults.FailWrites = true;
        var pending = await store.TryRollbackAsync(TimeSpan.FromMilliseconds(200)).WaitAsync(Long);
        Assert.Equal(StoreWriteStatus.Pending, pending.Status);
        Assert.StartsWith("models: the rollback to bundle 1 is not durable yet", pending.Reason);
        Assert.Equal(2UL, store.Version);
        faults.FailWrites = false;
        for (int i = 0; store.PendingWrite is not null; i++)
        {
            Assert.True(i < 3000, "the pending rollback never took effect");
            await Task.Delay(20);
        }

        Assert.Equal(1UL, store.Version);
    }

    private static async Task<StoreWriteResult> Push(ModelStore store, ulong version, TimeSpan within)
    {
        var (writer, reason) = await store.TryBeginBundleAsync(version, partial: false, within);
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

            return await writer.CommitAsync(within, out _);
        }
    }

    private static Task<StoreWriteResult> Import(ProfileStore store, int first, int count, TimeSpan within)
    {
        var (ids, profiles) = NumberedProfiles.Batch(first, count);
        return store.UpsertManyDurableAsync(ids, profiles, within);
    }

    private ModelStore OpenModels(StorageFaults? faults = null) => ModelStore.Open(new ModelStoreOptions
    {
        DataDirectory = Path.Combine(_dir.Path, "models"),
        MemoryBytes = 8L << 20,
        PageBytes = 1L << 20,
        SegmentBytes = 4L << 20,
        IndexBytes = 1L << 20,
        Faults = faults,
        CloseTimeout = TimeSpan.FromSeconds(5),
    });

    private ProfileStore OpenProfiles(StorageFaults? faults = null) => ProfileStore.Open(new ProfileStoreOptions
    {
        DataDirectory = Path.Combine(_dir.Path, "profiles"),
        MemoryBytes = 4L << 20,
        PageBytes = 256L << 10,
        SegmentBytes = 4L << 20,
        IndexBytes = 1L << 20,
        Faults = faults,
    });
}
