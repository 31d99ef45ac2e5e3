using BenchmarkDotNet.Attributes;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;

namespace EdgeSelector.Benchmarks.Core;

/// <summary>
/// The memory-bound case: greedy selections over 10,000 title models (K=32, d=64) picked uniformly at random, so
/// almost every selection reads its model from DRAM; against the same selection on one hot model. Run per weight
/// precision: the bytes read per selection, not the multiply-adds, set the speed here.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class ColdCacheBenchmarks
{
    private const int Titles = 10_000;
    private const int Images = 32;
    private const int Dimension = 64;
    private const int Batch = 1024;

    private byte[][] _models = [];
    private int[] _order = [];
    private SelectionEngine _engine = null!;
    private MemberContext _member;
    private int _next;

    /// <summary>How the weights are stored.</summary>
    [Params(WeightPrecision.Float32, WeightPrecision.BFloat16, WeightPrecision.Int8)]
    public WeightPrecision Precision { get; set; }

    /// <summary>Bytes a greedy selection reads from the blob: header, image table and the weight section.</summary>
    public int BytesReadPerSelection => ModelFormat.SizeWithoutTags(Images, Dimension, Precision, hasVariances: false);

    [GlobalSetup]
    public void Setup()
    {
        // Each model is its own array, as the store keeps each title's record apart; together they far exceed the
        // L2 and L3 caches (10,000 × 2.8-8.9 KB).
        _models = new byte[Titles][];
        for (var t = 0; t < Titles; t++)
        {
            _models[t] = BenchmarkModels.Blob(Images, Dimension, seed: t, Precision, titleId: (uint)t);
        }

        var rng = new Random(42);
        _order = new int[1 << 20];
        for (var i = 0; i < _order.Length; i++)
        {
            _order[i] = rng.Next(Titles);
        }

        _engine = new SelectionEngine(new SelectionOptions { Policy = PolicyKind.Greedy });
        _member = BenchmarkModels.Member(1);
        Console.WriteLine($"// bytes read per selection ({Precision}): {BytesReadPerSelection}");
    }

    /// <summary>Uniformly random titles: the model comes from memory, not cache. Per operation = one selection.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public uint UniformTitles()
    {
        uint sum = 0;
        for (var i = 0; i < Batch; i++)
        {
            var t = _order[_next++ & (_order.Length - 1)];
            sum += Select(_models[t], (uint)t);
        }

        return sum;
    }

    /// <summary>The same selection on one hot model, for the ratio.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public uint HotTitle()
    {
        uint sum = 0;
        for (var i = 0; i < Batch; i++)
        {
            sum += Select(_models[7], 7);
        }

        return sum;
    }

    private uint Select(byte[] blob, uint title)
    {
        ModelView.TryOpen(blob, ModelCheck.Structure, out var view, out _);
        _member.MemberId++;
        return _engine.Select(view, _member, new TitleContext { TitleId = title, RecommenderScore = 0.5f }, 0).ImageId;
    }
}
