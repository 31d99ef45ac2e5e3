using BenchmarkDotNet.Attributes;
using EdgeSelector.Benchmarks.Core;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;
using EdgeSelector.Storage.Models;

namespace EdgeSelector.Benchmarks.Storage;

/// <summary>
/// Issue 12.1's model prefetch, on the real store: greedy selections read in place through a
/// <see cref="ModelReadSession{TVisitor}"/> (one batch, one epoch entry) over 10,000 title models (K=32, d=64, int8)
/// picked uniformly at random, so the hash bucket, the record and the weights come from DRAM; with and without
/// <see cref="ModelReadSession{TVisitor}.Prefetch"/> of the next title before each read; against one hot title.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class ModelPrefetchBenchmarks
{
    private const int Titles = 10_000;
    private const int Images = 32;
    private const int Dimension = 64;
    private const int Batch = 1024;

    private string _dir = "";
    private ModelStore _store = null!;
    private ModelReadSession<Visitor> _session = null!;
    private uint[] _order = [];
    private Visitor _visitor;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "es-prefetch-bench-" + Guid.NewGuid().ToString("N"));
        _store = ModelStore.Open(new ModelStoreOptions
        {
            DataDirectory = _dir,
            MemoryBytes = 256L << 20,
            PageBytes = 4L << 20,
            SegmentBytes = 256L << 20,
            IndexBytes = 16L << 20,
            CheckpointOnChange = false,
            Readers = [ModelReader.For<Visitor>()],
        });
        using (var writer = _store.BeginBundle(1))
        {
            for (var t = 0; t < Titles; t++)
            {
                writer.Add((uint)t, BenchmarkModels.Blob(Images, Dimension, seed: t, WeightPrecision.Int8, titleId: (uint)t));
            }

            writer.Commit();
        }

        var rng = new Random(42);
        _order = new uint[1 << 20];
        for (var i = 0; i < _order.Length; i++)
        {
            _order[i] = (uint)rng.Next(Titles);
        }

        _visitor = new Visitor { Engine = new SelectionEngine(new SelectionOptions { Policy = PolicyKind.Greedy }), Member = BenchmarkModels.Member(1) };
        _session = _store.OpenReadSession<Visitor>();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session.Dispose();
        _store.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Uniformly random titles, each read and scored in place. Per operation = one selection.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public uint UniformTitles()
    {
        uint sum = 0;
        _session.Begin();
        for (var i = 0; i < Batch; i++)
        {
            var t = _order[_next++ & (_order.Length - 1)];
            _session.TryRead(t, ref _visitor);
            sum += _visitor.ImageId;
        }

        _session.End();
        return sum;
    }

    /// <summary>The same, with the next title's record prefetched before each read (SelectionService.Decide's order).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public uint UniformTitlesPrefetchNext()
    {
        uint sum = 0;
        _session.Begin();
        for (var i = 0; i < Batch; i++)
        {
            var t = _order[_next++ & (_order.Length - 1)];
            _session.Prefetch(_order[_next & (_order.Length - 1)]);
            _session.TryRead(t, ref _visitor);
            sum += _visitor.ImageId;
        }

        _session.End();
        return sum;
    }

    /// <summary>One hot title read and scored in place, for the ratio.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public uint HotTitle()
    {
        uint sum = 0;
        _session.Begin();
        for (var i = 0; i < Batch; i++)
        {
            _session.TryRead(7, ref _visitor);
            sum += _visitor.ImageId;
        }

        _session.End();
        return sum;
    }

    /// <summary>Scores in place (what the server's ScoringVisitor does, without its fallbacks).</summary>
    private struct Visitor : IModelVisitor
    {
        public SelectionEngine Engine;
        public MemberContext Member;
        public uint ImageId;

        public void Visit(uint titleId, ReadOnlySpan<byte> model)
        {
            ModelView.TryOpen(model, ModelCheck.Structure, out var view, out _);
            Member.MemberId++;
            ImageId = Engine.Select(view, Member, new TitleContext { TitleId = titleId, RecommenderScore = 0.5f }, 0).ImageId;
        }
    }
}
