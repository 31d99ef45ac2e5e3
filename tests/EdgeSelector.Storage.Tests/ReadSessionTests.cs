using EdgeSelector.Core.Features;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>
/// The per-connection read sessions (#12.1): a model session pins one generation for its batch and reads it under one
/// epoch entry, a push during the batch is seen by the next batch only; a profile session reads many members with the
/// disk reads completed together.
/// </summary>
public sealed class ReadSessionTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ModelReadSession_PushDuringBatch_BatchKeepsItsGenerationAndTheNextSeesTheNew()
    {
        using var store = OpenModels();
        ModelStoreTests.Push(store, version: 1, titles: [1, 2]);
        using var session = store.OpenReadSession<ModelStoreTests.ModelProbe>();
        var probe = default(ModelStoreTests.ModelProbe);

        session.Begin();
        Assert.Equal(1UL, session.Version);
        Assert.True(session.TryRead(1, ref probe));
        Assert.Equal(1UL, probe.Version);

        // Pushed from another thread while the batch holds the epoch (a push never runs on a serving thread). A thread,
        // not an awaited task: the epoch belongs to this thread, and the test must stay on it.
        var pusher = new Thread(() => ModelStoreTests.Push(store, version: 2, titles: [1, 3]));
        pusher.Start();
        Assert.True(pusher.Join(TimeSpan.FromSeconds(60)), "the push did not finish while a batch held the epoch");
        Assert.Equal(2UL, store.Version);
        Assert.True(session.TryRead(1, ref probe));
        Assert.Equal(1UL, probe.Version);
        Assert.True(session.TryRead(2, ref probe)); // still there: the pinned generation is not deleted under the batch
        Assert.False(session.TryRead(3, ref probe));
        session.End();

        session.Begin();
        Assert.Equal(2UL, session.Version);
        Assert.True(session.TryRead(3, ref probe));
        Assert.Equal(2UL, probe.Version);
        Assert.False(session.TryRead(2, ref probe));
        session.End();
    }

    [Fact]
    public void ModelReadSession_EndReleasesThePin_RetiredGenerationIsDeletedAtTheNextPush()
    {
        using var store = OpenModels();
        ModelStoreTests.Push(store, version: 1, titles: [1]);
        using var session = store.OpenReadSession<ModelStoreTests.ModelProbe>();
        session.Begin();
        session.End();

        // Three more generations with MaxGenerations = 3 retire generation 1; no batch holds it, so nothing stays pinned
        // and a rollback chain only ever reaches the kept ones.
        ModelStoreTests.Push(store, version: 2, titles: [1]);
        ModelStoreTests.Push(store, version: 3, titles: [1]);
        ModelStoreTests.Push(store, version: 4, titles: [1]);
        Assert.Equal([2UL, 3UL, 4UL], store.Generations.Select(g => g.Version));
        session.Begin();
        var probe = default(ModelStoreTests.ModelProbe);
        Assert.True(session.TryRead(1, ref probe));
        Assert.Equal(4UL, probe.Version);
        session.End();
    }

    [Fact]
    public void ModelReadSession_NoBundle_ReadsNothing()
    {
        using var store = OpenModels();
        using var session = store.OpenReadSession<ModelStoreTests.ModelProbe>();
        session.Begin();
        var probe = default(ModelStoreTests.ModelProbe);
        Assert.False(session.TryRead(1, ref probe));
        Assert.Equal(0UL, session.Version);
        session.End();
    }

    [Fact]
    public void ModelReadSession_BeginTwice_Throws()
    {
        using var store = OpenModels();
        using var session = store.OpenReadSession<ModelStoreTests.ModelProbe>();
        session.Begin();
        Assert.Throws<InvalidOperationException>(session.Begin);
        session.End();
    }

    [Fact]
    public void ModelReadSession_Prefetch_VisitsNothingAndChangesNoRead()
    {
        using var store = OpenModels();
        ModelStoreTests.Push(store, version: 1, titles: [1, 2]);
        using var session = store.OpenReadSession<CountingProbe>();
        var probe = default(CountingProbe);
        session.Prefetch(1); // outside a batch: nothing
        session.Begin();
        CountingProbe.Visits = 0;
        session.Prefetch(1);
        session.Prefetch(2);
        session.Prefetch(3); // no such title
        Assert.Equal(0, CountingProbe.Visits);
        Assert.True(session.TryRead(1, ref probe));
        Assert.Equal(1, CountingProbe.Visits);
        Assert.Equal(1u, probe.Title);
        Assert.True(session.TryRead(2, ref probe));
        Assert.Equal(2u, probe.Title);
        Assert.False(session.TryRead(3, ref probe));
        session.End();
    }

    [Fact]
    public void ModelReadSession_PrefetchWithTheGenerationOnDisk_ReadsStillCorrect()
    {
        // A 4 MB model store under ~6 MB of models: the generation's first records are on disk; a prefetch leaves them
        // there (no pending read of its own) and every read still returns its title's model.
        using var store = ModelStore.Open(new ModelStoreOptions
        {
            DataDirectory = _dir.Path,
            MemoryBytes = 4L << 20,
            PageBytes = 512L << 10,
            SegmentBytes = 8L << 20,
            IndexBytes = 1L << 20,
            MaxGenerations = 3,
            CheckpointOnChange = false,
            Readers = [ModelReader.For<CountingProbe>()],
        });
        var titles = Enumerable.Range(1, 1500).Select(t => (uint)t).ToArray();
        ModelStoreTests.Push(store, version: 1, titles: titles, length: 4000);
        Assert.False(store.IsFullyInMemory);
        using var session = store.OpenReadSession<CountingProbe>();
        var probe = default(CountingProbe);
        session.Begin();
        for (var i = 0; i < titles.Length; i++)
        {
            session.Prefetch(titles[(i + 1) % titles.Length]);
            Assert.True(session.TryRead(titles[i], ref probe));
            Assert.Equal(titles[i], probe.Title);
        }

        session.End();
    }

    [Fact]
    public void ProfileReadSession_ReadManyMixedMemoryAndDisk_EveryProfileAndUnknownMember()
    {
        const int Count = 100_000; // ≈ 9 MB of records against a 2 MB in-memory budget: most reads go to disk
        using var store = ProfileStore.Open(new ProfileStoreOptions
        {
            DataDirectory = _dir.Path,
            MemoryBytes = 2L << 20,
            PageBytes = 64L << 10,
            SegmentBytes = 4L << 20,
            IndexBytes = 4L << 20,
        });
        ProfileStoreTests.UpsertRange(store, 0, Count);
        Assert.True(store.HeadAddress > 0, "expected most of the log to have been evicted to disk");

        using var session = store.OpenReadSession();
        var random = new Random(12);
        var ids = new ulong[64];
        var profiles = new MemberProfile[ids.Length];
        var found = new bool[ids.Length];
        for (var round = 0; round < 50; round++)
        {
            for (var i = 0; i < ids.Length; i++)
            {
                // Mostly stored members (early ones are on disk, late ones in memory), some unknown, some repeated.
                ids[i] = i % 13 == 5 ? 3 : i % 17 == 0 && i > 0 ? ids[i - 1] : (ulong)random.Next(Count) * 7919;
            }

            session.Begin();
            var count = session.ReadMany(ids, profiles, found);
            session.End();
            var expected = 0;
            for (var i = 0; i < ids.Length; i++)
            {
                var stored = ids[i] % 7919 == 0 && ids[i] / 7919 < Count;
                Assert.Equal(stored, found[i]);
                expected += stored ? 1 : 0;
                session.Begin();
                Assert.Equal(stored, session.TryGet(ids[i], out var one));
                session.End();
                if (stored)
                {
                    var expectedProfile = ProfileStoreTests.MakeProfile(ids[i]);
                    Assert.Equal(expectedProfile.Country, profiles[i].Country);
                    Assert.True(((ReadOnlySpan<float>)expectedProfile.Genres).SequenceEqual(profiles[i].Genres));
                    Assert.True(((ReadOnlySpan<float>)profiles[i].Genres).SequenceEqual(one.Genres));
                }
            }

            Assert.Equal(expected, count);
        }
    }

    [Fact]
    public void ProfileReadSession_ReadOutsideBatch_Throws()
    {
        using var store = ProfileStore.Open(new ProfileStoreOptions { DataDirectory = _dir.Path, MemoryBytes = 1L << 20, PageBytes = 64L << 10, SegmentBytes = 1L << 20, IndexBytes = 1L << 20 });
        using var session = store.OpenReadSession();
        Assert.Throws<InvalidOperationException>(() => session.TryGet(1, out _));
    }

    private ModelStore OpenModels() => ModelStore.Open(new ModelStoreOptions
    {
        DataDirectory = _dir.Path,
        MemoryBytes = 32L << 20,
        PageBytes = 1L << 20,
        SegmentBytes = 8L << 20,
        IndexBytes = 1L << 20,
        MaxGenerations = 3,
        CheckpointOnChange = false,
        Readers = [ModelReader.For<ModelStoreTests.ModelProbe>(), ModelReader.For<CountingProbe>()],
    });

    // Counts its visits (a prefetch must make none) and keeps the title of the last model it saw.
    private struct CountingProbe : IModelVisitor
    {
        [ThreadStatic]
        public static int Visits;

        public uint Title;

        public void Visit(uint titleId, ReadOnlySpan<byte> model)
        {
            Visits++;
            Title = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(model[8..]);
        }
    }
}
