using BenchmarkDotNet.Attributes;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;

namespace EdgeSelector.Benchmarks.Core;

/// <summary>
/// ns per selection (encode + score + explore) on one hot model, for K images × d features, with the serving
/// precision (<see cref="ModelDefaults.ServingPrecision"/>). docs/performance.md records the table.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class SelectionBenchmarks
{
    private byte[] _blob = [];
    private SelectionEngine _greedy = null!;
    private SelectionEngine _epsilon = null!;
    private SelectionEngine _softmax = null!;
    private SelectionEngine _thompson = null!;
    private MemberContext _member;
    private TitleContext _title;
    private long _now;

    /// <summary>Number of candidate images K.</summary>
    [Params(8, 32, 64)]
    public int Images { get; set; }

    /// <summary>
    /// Feature dimension d. The current schema needs at least its dense slots plus eight hashed ones
    /// (<see cref="FeatureSpace.MinDimensionOf"/>: 44), so d=32 is no longer a model this build can serve.
    /// </summary>
    [Params(48, 64, 128)]
    public int Features { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _blob = BenchmarkModels.Blob(Images, Features, seed: 1, ModelDefaults.ServingPrecision);
        _greedy = new SelectionEngine(new SelectionOptions { Policy = PolicyKind.Greedy });
        _epsilon = new SelectionEngine(new SelectionOptions { Policy = PolicyKind.EpsilonGreedy, Epsilon = 0.1f });
        _softmax = new SelectionEngine(new SelectionOptions { Policy = PolicyKind.Softmax, Temperature = 0.01f });
        _thompson = new SelectionEngine(new SelectionOptions { Policy = PolicyKind.Thompson });
        _member = BenchmarkModels.Member(1);
        _title = new TitleContext { TitleId = 1, RecommenderScore = 0.5f };
        _now = 1_700_000_000_000;
    }

    [Benchmark(Baseline = true)]
    public uint Greedy() => Select(_greedy);

    [Benchmark]
    public uint EpsilonGreedy() => Select(_epsilon);

    [Benchmark]
    public uint Softmax() => Select(_softmax);

    [Benchmark]
    public uint Thompson() => Select(_thompson);

    private uint Select(SelectionEngine engine)
    {
        ModelView.TryOpen(_blob, ModelCheck.Structure, out var view, out _);
        _member.MemberId++; // a new member each call: the sticky draw changes, so branches do not memorise one answer
        return engine.Select(view, _member, _title, _now).ImageId;
    }
}
