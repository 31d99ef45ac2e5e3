using BenchmarkDotNet.Attributes;
using EdgeSelector.Core.Logging;
using EdgeSelector.Storage.Impressions;

namespace EdgeSelector.Benchmarks.Storage;

/// <summary>
/// What the impression log adds to a decision on the serving path: encoding one 136-byte impression record and
/// appending it to the FasterLog (group commit in the background, as the server runs it).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class ImpressionLogBenchmarks
{
    private const int Batch = 1024;
    private readonly byte[] _buffer = new byte[ImpressionRecord.Size];
    private ImpressionLog _log = null!;
    private string _dir = string.Empty;
    private ImpressionRecord _record;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "es-bench-log-" + Guid.NewGuid().ToString("N"));
        _log = ImpressionLog.Open(new ImpressionLogOptions { DataDirectory = _dir, MemoryBytes = 64L << 20 });
        _record = new ImpressionRecord { EventId = 1, TimestampMs = 1_700_000_000_000, MemberId = 42, TitleId = 7, ChosenImageId = 701, Propensity = 0.9 };
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _log.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Encode and append one record (per operation); spins only when the log's memory is full.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public long EncodeAndAppend()
    {
        long last = 0;
        for (var i = 0; i < Batch; i++)
        {
            _record.EventId++;
            _record.Write(_buffer);
            while (!_log.TryEnqueue(_buffer, out last))
            {
                Thread.Yield();
            }
        }

        return last;
    }
}
