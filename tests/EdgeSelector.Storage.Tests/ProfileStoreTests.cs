using EdgeSelector.Core.Features;
using EdgeSelector.Storage.Profiles;
using Xunit;

namespace EdgeSelector.Storage.Tests;

public sealed class ProfileStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TryGet_UnknownMember_ReturnsFalse()
    {
        using var store = Open();
        Assert.False(store.TryGet(42, out _));
    }

    [Fact]
    public void Upsert_ThenTryGet_ReturnsProfile()
    {
        using var store = Open();
        store.Upsert(42, MakeProfile(42));
        Assert.True(store.TryGet(42, out var profile));
        AssertProfile(42, profile);

        store.Upsert(42, MakeProfile(43));
        Assert.True(store.TryGet(42, out profile));
        AssertProfile(43, profile);

        store.Delete(42);
        Assert.False(store.TryGet(42, out _));
    }

    [Fact]
    public void UpsertMany_MoreThanMemoryBudget_EveryProfileReadsBack()
    {
        const int Count = 200_000; // 200k × 88 bytes ≈ 17 MB of records against a 2 MB in-memory budget
        using var store = Open();
        UpsertRange(store, 0, Count);

        Assert.True(store.HeadAddress > 0, "expected most of the log to have been evicted to disk");
        for (ulong id = 0; id < Count; id++)
        {
            Assert.True(store.TryGet(id * 7919, out var profile), $"member {id * 7919} missing");
            AssertProfile(id * 7919, profile);
        }
    }

    // A node restarted between durable imports, again and again (the model store's twin: ModelStoreTests.PushThenReopen_FiveTimes_…):
    // each open recovers every acknowledged profile, never a damaged store. Before the tail checksum fix
    // (KvCheckpoints.Adopt) the third open found a checksum mismatch in profiles.log.0 and moved the store aside.
    [Fact]
    public void DurableImportThenReopen_FiveTimes_RecoversEveryImport_NeverDamaged()
    {
        for (int round = 0; round < 5; round++)
        {
            using var store = Open();
            Assert.True(
                store.OpenReport.Outcome is EdgeSelector.Storage.Health.StoreOpenOutcome.Created or EdgeSelector.Storage.Health.StoreOpenOutcome.Recovered,
                $"open before import {round}: {store.OpenReport.Outcome}: {store.OpenReport.Message}");
            for (int earlier = 0; earlier < round; earlier++)
            {
                Assert.True(store.TryGet((ulong)(earlier * 100), out var kept), $"member {earlier * 100} of import {earlier} lost at open {round}");
                Assert.Equal((ushort)(earlier * 100), kept.Country);
            }

            var (ids, profiles) = NumberedProfiles.Batch(round * 100, 50);
            Assert.True(store.UpsertManyDurable(ids, profiles, TimeSpan.FromSeconds(30)).IsDurable);
        }
    }

    [Fact]
    public void Open_AfterCheckpoint_RecoversProfilesOnDiskAndInMemory()
    {
        const int Count = 60_000;
        using (var store = Open())
        {
            UpsertRange(store, 0, Count);
            store.Checkpoint();
            store.Upsert(ulong.MaxValue, MakeProfile(1)); // after the checkpoint: not recovered
        }

        using (var store = Open())
        {
            for (ulong id = 0; id < Count; id++)
            {
                Assert.True(store.TryGet(id * 7919, out var profile));
                AssertProfile(id * 7919, profile);
            }

            Assert.False(store.TryGet(ulong.MaxValue, out _));
        }
    }

    [Fact]
    public void CheckpointInterval_Elapsed_CheckpointIsRecovered()
    {
        using (var store = Open(TimeSpan.FromMilliseconds(100)))
        {
            UpsertRange(store, 0, 1_000);
            Thread.Sleep(1_000);
            Assert.Null(store.LastCheckpointFailure);
        }

        using (var store = Open())
        {
            Assert.True(store.TryGet(999 * 7919, out var profile));
            AssertProfile(999 * 7919, profile);
        }
    }

    [Fact]
    public void CheckpointInterval_NothingWritten_SkipsTheCheckpoint_UntilAWriteOrADelete()
    {
        using var store = Open(TimeSpan.FromMilliseconds(50));

        // How long a checkpoint takes on this disk (an explicit one, of the empty store): each quiet window below lasts
        // ten ticks and three such checkpoints, so a tick that did checkpoint would have completed and been counted.
        var timer = System.Diagnostics.Stopwatch.StartNew();
        store.Checkpoint();
        var window = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(500).Ticks, 3 * timer.Elapsed.Ticks));
        Assert.Equal(1, store.CheckpointsTaken);
        Thread.Sleep(window);
        Assert.Equal(1, store.CheckpointsTaken);

        UpsertRange(store, 0, 100);
        WaitForCheckpoints(store, 2);
        Thread.Sleep(window);
        Assert.Equal(2, store.CheckpointsTaken);

        store.Upsert(7, MakeProfile(7));
        WaitForCheckpoints(store, 3);
        store.Delete(7);
        WaitForCheckpoints(store, 4);
        Thread.Sleep(window);
        Assert.Equal(4, store.CheckpointsTaken);
        Assert.Null(store.LastCheckpointFailure);
    }

    // Bounded: a checkpoint of a few KB on a 50 ms timer completes within seconds even on a loaded machine.
    private static void WaitForCheckpoints(ProfileStore store, long atLeast)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (store.CheckpointsTaken < atLeast)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), $"{store.CheckpointsTaken} checkpoints after 60 s, expected {atLeast}");
            Thread.Sleep(20);
        }
    }

    [Fact]
    public void TryGet_ManyThreadsMixedMemoryAndDisk_AllCorrect()
    {
        const int Count = 100_000;
        using var store = Open();
        UpsertRange(store, 0, Count);

        Parallel.For(0, 4, worker =>
        {
            for (int i = worker; i < Count; i += 4)
            {
                ulong id = (ulong)i * 7919;
                Assert.True(store.TryGet(id, out var profile));
                AssertProfile(id, profile);
            }
        });
    }

    private ProfileStore Open(TimeSpan? checkpointInterval = null, long memoryBytes = 2L << 20) => ProfileStore.Open(new ProfileStoreOptions
    {
        DataDirectory = _dir.Path,
        MemoryBytes = memoryBytes,
        PageBytes = 64L << 10,
        SegmentBytes = 4L << 20,
        IndexBytes = 4L << 20,
        CheckpointInterval = checkpointInterval,
    });

    internal static void UpsertRange(ProfileStore store, int start, int count)
    {
        const int Batch = 1_000;
        var ids = new ulong[Batch];
        var profiles = new MemberProfile[Batch];
        for (int i = start; i < start + count; i += Batch)
        {
            int n = Math.Min(Batch, start + count - i);
            for (int j = 0; j < n; j++)
            {
                ids[j] = (ulong)(i + j) * 7919;
                profiles[j] = MakeProfile(ids[j]);
            }

            store.UpsertMany(ids.AsSpan(0, n), profiles.AsSpan(0, n));
        }
    }

    internal static MemberProfile MakeProfile(ulong id)
    {
        var profile = new MemberProfile
        {
            Country = (ushort)id,
            Language = (ushort)(id >> 16),
            Device = (DeviceClass)(id % 6),
            Reserved1 = (ushort)(id >> 32),
        };
        for (int g = 0; g < MemberProfile.GenreCount; g++)
        {
            profile.Genres[g] = ((id + (ulong)g) % 1000) / 1000f;
        }

        return profile;
    }

    private static void AssertProfile(ulong id, MemberProfile actual)
    {
        var expected = MakeProfile(id);
        Assert.Equal(expected.Country, actual.Country);
        Assert.Equal(expected.Language, actual.Language);
        Assert.Equal(expected.Device, actual.Device);
        Assert.Equal(expected.Reserved1, actual.Reserved1);
        Assert.True(((ReadOnlySpan<float>)expected.Genres).SequenceEqual(actual.Genres), $"genres of {id} differ");
    }
}
