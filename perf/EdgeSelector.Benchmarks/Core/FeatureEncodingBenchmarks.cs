using BenchmarkDotNet.Attributes;
using EdgeSelector.Core.Features;

namespace EdgeSelector.Benchmarks.Core;

/// <summary>
/// ns to encode one (member, title) context: into the dense d-vector (float scoring, tools), and into the sparse form
/// the selection engine uses (dense slots plus each hashed feature's slot and sign; int8 scoring reads it as is).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class FeatureEncodingBenchmarks
{
    private readonly float[] _x = new float[128];
    private MemberContext _member;
    private TitleContext _title;
    private FeatureSpace _space;

    /// <summary>
    /// Feature dimension d. The current schema needs at least its dense slots plus eight hashed ones
    /// (<see cref="FeatureSpace.MinDimensionOf"/>: 44), so d=32 is no longer a model this build can serve.
    /// </summary>
    [Params(48, 64, 128)]
    public int Features { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _member = BenchmarkModels.Member(1);
        _title = new TitleContext { TitleId = 1, RecommenderScore = 0.5f };
        _space = new FeatureSpace((ushort)Features, 0xBEEF, FeatureSpace.CurrentSchema);
    }

    [Benchmark(Baseline = true)]
    public float Encode()
    {
        _member.LocalHour = (byte)((_member.LocalHour + 1) % 24);
        FeatureEncoder.TryEncode(_space, _member, _title, _x);
        return _x[0];
    }

    [Benchmark]
    public int EncodeSparse()
    {
        _member.LocalHour = (byte)((_member.LocalHour + 1) % 24);
        FeatureEncoder.TryEncode(_space, _member, _title, out SparseFeatures features);
        return features.Slots[0];
    }
}
