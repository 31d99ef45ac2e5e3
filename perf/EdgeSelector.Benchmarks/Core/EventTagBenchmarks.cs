using BenchmarkDotNet.Attributes;
using EdgeSelector.Core.Security;

namespace EdgeSelector.Benchmarks.Core;

/// <summary>
/// The candidate keyed PRFs for event tags (docs/protocol.md, "Event ids and tags"), per title: a page of 40
/// consecutive event ids tagged in a row (independent: the CPU may overlap them) and chained (each id depends on the
/// previous tag, as when scoring separates the titles: the latency of one tag). AES-128 on AES-NI and on the portable
/// path, SipHash-2-4 and SipHash-1-3.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class EventTagBenchmarks
{
    private const int Titles = 40;
    private const ulong Domain = 0x3176_2067_6154_5345; // "ESTag v1"
    private readonly Aes128 _aes = new([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    private readonly ulong _k0 = 0x0706050403020100;
    private readonly ulong _k1 = 0x0f0e0d0c0b0a0908;
    private ulong _chain; // 0, but the JIT cannot know it: makes each id depend on the previous tag
    private ulong _first = 0x0010_0000_0000_0001;

    [GlobalSetup]
    public void Setup() => _chain = 0;

    [Benchmark(Baseline = true, OperationsPerInvoke = Titles)]
    public ulong AesNi_Page()
    {
        ulong acc = 0;
        for (var i = 0; i < Titles; i++)
        {
            acc ^= _aes.Encrypt(_first + (ulong)i, Domain);
        }

        _first += Titles;
        return acc;
    }

    [Benchmark(OperationsPerInvoke = Titles)]
    public ulong AesNi_Chained()
    {
        ulong acc = 0;
        for (var i = 0; i < Titles; i++)
        {
            acc ^= _aes.Encrypt(_first + (ulong)i + (acc & _chain), Domain);
        }

        _first += Titles;
        return acc;
    }

    [Benchmark(OperationsPerInvoke = Titles)]
    public ulong AesPortable_Page()
    {
        ulong acc = 0;
        for (var i = 0; i < Titles; i++)
        {
            acc ^= _aes.EncryptPortable(_first + (ulong)i, Domain);
        }

        _first += Titles;
        return acc;
    }

    [Benchmark(OperationsPerInvoke = Titles)]
    public ulong SipHash24_Page()
    {
        ulong acc = 0;
        for (var i = 0; i < Titles; i++)
        {
            acc ^= SipHash.Hash24(_k0, _k1, _first + (ulong)i);
        }

        _first += Titles;
        return acc;
    }

    [Benchmark(OperationsPerInvoke = Titles)]
    public ulong SipHash24_Chained()
    {
        ulong acc = 0;
        for (var i = 0; i < Titles; i++)
        {
            acc ^= SipHash.Hash24(_k0, _k1, _first + (ulong)i + (acc & _chain));
        }

        _first += Titles;
        return acc;
    }

    [Benchmark(OperationsPerInvoke = Titles)]
    public ulong SipHash13_Page()
    {
        ulong acc = 0;
        for (var i = 0; i < Titles; i++)
        {
            acc ^= SipHash.Hash13(_k0, _k1, _first + (ulong)i);
        }

        _first += Titles;
        return acc;
    }

    [Benchmark(OperationsPerInvoke = Titles)]
    public ulong SipHash13_Chained()
    {
        ulong acc = 0;
        for (var i = 0; i < Titles; i++)
        {
            acc ^= SipHash.Hash13(_k0, _k1, _first + (ulong)i + (acc & _chain));
        }

        _first += Titles;
        return acc;
    }
}
