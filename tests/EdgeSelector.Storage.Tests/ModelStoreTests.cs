using System.Buffers.Binary;
using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Models;
using Xunit;

namespace EdgeSelector.Storage.Tests;

public sealed class ModelStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TryRead_NoBundle_ReturnsFalse()
    {
        using var store = Open();
        var visitor = default(ModelProbe);
        Assert.False(store.TryRead(1, ref visitor));
        Assert.Equal(0UL, store.Version);
        Assert.Equal(0, store.TitleCount);
    }

    [Fact]
    public void TryRead_VisitorTypeNotDeclared_ThrowsInsteadOfMakingAnotherSessionPool()
    {
        using var store = Open();
        Push(store, version: 1, titles: [1]);
        var undeclared = default(UndeclaredProbe);
        var error = Assert.Throws<InvalidOperationException>(() => store.TryRead(1, ref undeclared));
        Assert.Contains(nameof(UndeclaredProbe), error.Message, StringComparison.Ordinal);
        using var snapshot = store.AcquireSnapshot();
        Assert.Throws<InvalidOperationException>(() => snapshot.TryRead(1, ref undeclared));
        var declared = default(ModelProbe);
        Assert.True(store.TryRead(1, ref declared));
    }

    [Fact]
    public void TryRead_AfterCommit_VisitsStoredBytes()
    {
        using var store = Open();
        Push(store, version: 7, titles: [1, 2, 3], length: 300);

        var visitor = default(ModelProbe);
        Assert.True(store.TryRead(2, ref visitor));
        Assert.Equal(7UL, visitor.Version);
        Assert.Equal(2U, visitor.EmbeddedTitle);
        Assert.Equal(300, visitor.Length);
        Assert.True(visitor.PatternOk);
        Assert.False(store.TryRead(4, ref visitor));
        Assert.Equal(7UL, store.Version);
        Assert.Equal(3, store.TitleCount);
    }

    [Fact]
    public void Commit_FullBundle_ReplacesTitleSet()
    {
        using var store = Open();
        Push(store, 1, [1, 2, 3]);
        Push(store, 2, [3, 4]);

        var visitor = default(ModelProbe);
        Assert.False(store.TryRead(1, ref visitor));
        Assert.True(store.TryRead(3, ref visitor));
        Assert.Equal(2UL, visitor.Version);
        Assert.Equal(2, store.TitleCount);
        Assert.Equal(1UL, store.PreviousVersion);
    }

    [Fact]
    public void Commit_PartialBundle_CarriesOverUnmentionedTitles()
    {
        using var store = Open();
        Push(store, 1, [1, 2, 3]);
        Push(store, 2, [3, 4], partial: true);

        Assert.Equal(4, store.TitleCount);
        Assert.Equal(1UL, ReadVersion(store, 1));
        Assert.Equal(2UL, ReadVersion(store, 3));
        Assert.Equal(2UL, ReadVersion(store, 4));
    }

    [Fact]
    public void Rollback_AfterTwoPushes_RestoresPreviousBundle()
    {
        using var store = Open();
        Push(store, 10, [1, 2]);
        Push(store, 11, [2, 3]);

        Assert.True(store.Rollback());

        Assert.Equal(10UL, store.Version);
        Assert.Equal(0UL, store.PreviousVersion);
        Assert.Equal(10UL, ReadVersion(store, 1));
        Assert.Equal(10UL, ReadVersion(store, 2));
        var visitor = default(ModelProbe);
        Assert.False(store.TryRead(3, ref visitor));
        Assert.False(store.Rollback());
    }

    [Fact]
    public void Commit_BeyondMaxGenerations_KeepsOnlyTheNewest()
    {
        using var store = Open();
        for (ulong v = 1; v <= 5; v++)
        {
            Push(store, v, [1, 2]);
        }

        var generations = store.Generations;
        Assert.Equal([3UL, 4UL, 5UL], generations.Select(g => g.Version));
        Assert.All(generations, g => Assert.Equal(2, g.TitleCount));
        Assert.True(store.Rollback());
        Assert.True(store.Rollback());
        Assert.False(store.Rollback());
        Assert.Equal(3UL, ReadVersion(store, 1));
    }

    // A node restarted between pushes, again and again: each open recovers the last bundle, never a damaged store. Before
    // the tail checksum fix (KvCheckpoints.Adopt) the third open found a checksum mismatch in models.log.0 and moved the
    // store aside. Closed with and without a checkpoint of its own (the push's checkpoint is the durable one).
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PushThenReopen_FiveTimes_RecoversEachBundle_NeverDamaged(bool checkpointBeforeClose)
    {
        for (ulong version = 1; version <= 5; version++)
        {
            using var store = Open();
            Assert.True(
                store.OpenReport.Outcome is StoreOpenOutcome.Created or StoreOpenOutcome.Recovered,
                $"open before push {version}: {store.OpenReport.Outcome}: {store.OpenReport.Message}");
            Assert.Equal(version - 1, store.Version);
            if (version > 1)
            {
                Assert.Equal(version - 1, ReadVersion(store, 1));
            }

            Push(store, version, [1, 2]);
            if (checkpointBeforeClose)
            {
                Assert.True(store.TryCheckpoint(TimeSpan.FromSeconds(30)));
            }
        }
    }

    [Fact]
    public void Dispose_WithoutCommit_LeavesActiveBundleUntouched()
    {
        using var store = Open();
        Push(store, 1, [1]);
        using (var writer = store.BeginBundle(2))
        {
            writer.Add(1, MakeModel(2, 1, 64));
            writer.Add(9, MakeModel(2, 9, 64));
        }

        Assert.Equal(1UL, store.Version);
        Assert.Equal(1UL, ReadVersion(store, 1));
        Push(store, 3, [1]);
        Assert.Equal(3UL, ReadVersion(store, 1));
        Assert.Equal(1UL, store.PreviousVersion);
    }

    [Fact]
    public void TryAdd_RejectedByValidator_StoresNothing()
    {
        using var store = Open();
        using var writer = store.BeginBundle(1);
        var validator = new RejectTitle(5);
        Assert.True(writer.TryAdd(4, MakeModel(1, 4, 32), ref validator));
        Assert.False(writer.TryAdd(5, MakeModel(1, 5, 32), ref validator));
        writer.Commit();

        Assert.Equal(1, store.TitleCount);
        var visitor = default(ModelProbe);
        Assert.False(store.TryRead(5, ref visitor));
    }

    [Fact]
    public void Open_AfterCommitsAndRollback_RecoversActiveGenerationAndMetadata()
    {
        ModelGenerationInfo[] before;
        using (var store = Open())
        {
            Push(store, 100, [1, 2, 3]);
            Push(store, 101, [1, 2]);
            Push(store, 102, [1]);
            Assert.True(store.Rollback());
            before = [.. store.Generations];
        }

        using (var store = Open())
        {
            Assert.Equal(before, store.Generations);
            Assert.Equal(101UL, store.Version);
            Assert.Equal(100UL, store.PreviousVersion);
            Assert.Equal(2, store.TitleCount);
            Assert.Equal(101UL, ReadVersion(store, 2));
            var visitor = default(ModelProbe);
            Assert.False(store.TryRead(3, ref visitor));

            // Generation numbers continue after recovery instead of reusing the rolled-back one.
            Push(store, 103, [7]);
            Assert.True(store.Rollback());
            Assert.Equal(101UL, store.Version);
            Assert.Equal(101UL, ReadVersion(store, 1));
        }
    }

    [Fact]
    public void Open_CheckpointOnChangeOff_ExplicitCheckpointIsRecovered()
    {
        using (var store = Open(checkpointOnChange: false))
        {
            Push(store, 5, [1, 2]);
            store.Checkpoint();
        }

        using (var store = Open(checkpointOnChange: false))
        {
            Assert.Equal(5UL, store.Version);
            Assert.Equal(5UL, ReadVersion(store, 2));
        }
    }

    [Fact]
    public void Commit_ManyPushes_LogIsCompactedAndSegmentFilesStayBounded()
    {
        uint[] titles = Enumerable.Range(1, 64).Select(i => (uint)i).ToArray();
        using (var store = Open())
        {
            for (ulong v = 1; v <= 40; v++)
            {
                Push(store, v, titles, length: 16 << 10); // 1 MB per bundle, 40 MB written in all
            }

            Assert.True(store.LogBeginAddress > 30L << 20, $"begin address {store.LogBeginAddress} did not move");
            Assert.True(store.IsFullyInMemory);
        }

        int segments = Directory.GetFiles(Path.Combine(_dir.Path, "log")).Length;
        Assert.True(segments <= 2, $"{segments} segment files of 8 MB for 4 kept bundles of 1 MB");
        using (var store = Open())
        {
            Assert.Equal([38UL, 39UL, 40UL], store.Generations.Select(g => g.Version));
            foreach (uint title in titles)
            {
                Assert.Equal(40UL, ReadVersion(store, title));
            }

            Assert.True(store.Rollback());
            Assert.True(store.Rollback());
            Assert.Equal(38UL, ReadVersion(store, 64));
        }
    }

    [Fact]
    public void Open_CheckpointIntervalElapsed_PeriodicCheckpointIsRecovered()
    {
        var options = new ModelStoreOptions
        {
            DataDirectory = _dir.Path,
            MemoryBytes = 32L << 20,
            PageBytes = 1L << 20,
            SegmentBytes = 8L << 20,
            IndexBytes = 1L << 20,
            CheckpointOnChange = false,
            CheckpointInterval = TimeSpan.FromMilliseconds(50),
            Readers = [ModelReader.For<ModelProbe>()],
        };
        using (var store = ModelStore.Open(options))
        {
            Push(store, 8, [1, 2]);
            Thread.Sleep(1_000);
            Assert.Null(store.LastCheckpointFailure);
        }

        using (var store = Open(checkpointOnChange: false))
        {
            Assert.Equal(8UL, store.Version);
            Assert.Equal(8UL, ReadVersion(store, 1));
        }
    }

    [Fact]
    public void Snapshot_HeldAcrossPushes_StillReadsItsGeneration()
    {
        using var store = Open();
        Push(store, 1, [1, 2]);
        using (var snapshot = store.AcquireSnapshot())
        {
            for (ulong v = 2; v <= 5; v++)
            {
                Push(store, v, [1, 2]);
            }

            var visitor = default(ModelProbe);
            Assert.True(snapshot.TryRead(2, ref visitor));
            Assert.Equal(1UL, visitor.Version);
            Assert.Equal(1UL, snapshot.Version);
        }

        Push(store, 6, [1, 2]);
        Assert.Equal(6UL, ReadVersion(store, 1));
    }

    [Fact]
    public void Snapshot_ReadsDuringPushesAndRollbacks_NeverMixGenerations()
    {
        using var store = Open();
        uint[] titles = [1, 2, 3, 4, 5, 6, 7, 8];
        Push(store, 1, titles);
        using var stop = new CancellationTokenSource();
        long snapshots = 0;
        string? failure = null;

        var readers = Enumerable.Range(0, 3).Select(r => new Thread(
            () =>
            {
                var visitor = default(ModelProbe);
                uint next = (uint)r;
                while (!stop.IsCancellationRequested)
                {
                    using var snapshot = store.AcquireSnapshot();
                    uint a = titles[next++ % (uint)titles.Length];
                    uint b = titles[next++ % (uint)titles.Length];
                    if (!snapshot.TryRead(a, ref visitor))
                    {
                        failure ??= $"title {a} missing from snapshot {snapshot.Version}";
                        return;
                    }

                    ulong first = visitor.Version;
                    if (!snapshot.TryRead(b, ref visitor))
                    {
                        failure ??= $"title {b} missing from snapshot {snapshot.Version}";
                        return;
                    }

                    if (first != visitor.Version || first != snapshot.Version || !visitor.PatternOk)
                    {
                        failure ??= $"snapshot {snapshot.Version} saw versions {first} and {visitor.Version}";
                        return;
                    }

                    Interlocked.Increment(ref snapshots);
                }
            })).ToArray();
        foreach (var reader in readers)
        {
            reader.Start();
        }

        for (ulong v = 2; v <= 40; v++)
        {
            Push(store, v, titles);
            if (v % 5 == 0)
            {
                Assert.True(store.Rollback());
            }
        }

        stop.Cancel();
        foreach (var reader in readers)
        {
            Assert.True(reader.Join(TimeSpan.FromMinutes(2)), "a snapshot reader did not stop within 2 minutes");
        }

        Assert.Null(failure);
        Assert.True(Interlocked.Read(ref snapshots) > 0);
    }

    [Fact]
    public void TryRead_ManyThreads_AllSeeTheirTitles()
    {
        using var store = Open();
        uint[] titles = Enumerable.Range(1, 200).Select(i => (uint)i).ToArray();
        Push(store, 9, titles, length: 1000);

        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, worker =>
        {
            var visitor = default(ModelProbe);
            for (int i = 0; i < 5_000; i++)
            {
                uint title = titles[(i * 7 + worker) % titles.Length];
                Assert.True(store.TryRead(title, ref visitor));
                Assert.Equal(title, visitor.EmbeddedTitle);
                Assert.Equal(9UL, visitor.Version);
                Assert.True(visitor.PatternOk);
            }
        });
    }

    private ModelStore Open(bool checkpointOnChange = true) => ModelStore.Open(new ModelStoreOptions
    {
        DataDirectory = _dir.Path,
        MemoryBytes = 32L << 20,
        PageBytes = 1L << 20,
        SegmentBytes = 8L << 20,
        IndexBytes = 1L << 20,
        MaxGenerations = 3,
        CheckpointOnChange = checkpointOnChange,
        Readers = [ModelReader.For<ModelProbe>()],
    });

    internal static void Push(ModelStore store, ulong version, uint[] titles, int length = 128, bool partial = false)
    {
        using var writer = store.BeginBundle(version, partial);
        foreach (uint title in titles)
        {
            writer.Add(title, MakeModel(version, title, length));
        }

        writer.Commit();
    }

    private static ulong ReadVersion(ModelStore store, uint title)
    {
        var visitor = default(ModelProbe);
        Assert.True(store.TryRead(title, ref visitor), $"title {title} not found");
        Assert.True(visitor.PatternOk);
        return visitor.Version;
    }

    /// <summary>Test model: u64 version | u32 title | bytes (i * 31 + title) &amp; 0xFF.</summary>
    internal static byte[] MakeModel(ulong version, uint title, int length)
    {
        var model = new byte[Math.Max(length, 12)];
        BinaryPrimitives.WriteUInt64LittleEndian(model, version);
        BinaryPrimitives.WriteUInt32LittleEndian(model.AsSpan(8), title);
        for (int i = 12; i < model.Length; i++)
        {
            model[i] = (byte)((i * 31) + title);
        }

        return model;
    }

    internal struct ModelProbe : IModelVisitor
    {
        public ulong Version;
        public uint EmbeddedTitle;
        public int Length;
        public bool PatternOk;

        public void Visit(uint titleId, ReadOnlySpan<byte> model)
        {
            Version = BinaryPrimitives.ReadUInt64LittleEndian(model);
            EmbeddedTitle = BinaryPrimitives.ReadUInt32LittleEndian(model[8..]);
            Length = model.Length;
            bool ok = EmbeddedTitle == titleId;
            for (int i = 12; i < model.Length && ok; i++)
            {
                ok = model[i] == (byte)((i * 31) + titleId);
            }

            PatternOk = ok;
        }
    }

    private struct UndeclaredProbe : IModelVisitor
    {
        public void Visit(uint titleId, ReadOnlySpan<byte> model)
        {
        }
    }

    private readonly struct RejectTitle(uint rejected) : IModelValidator
    {
        public bool Validate(uint titleId, ReadOnlySpan<byte> model) => titleId != rejected;
    }
}
