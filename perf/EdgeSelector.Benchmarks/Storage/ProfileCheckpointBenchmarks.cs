using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using EdgeSelector.Core.Features;
using EdgeSelector.Storage.Profiles;

namespace EdgeSelector.Benchmarks.Storage;

/// <summary>
/// One durable import of 1% of a 1M-profile store (<see cref="ProfileStore.UpsertManyDurable"/>: the upserts and the
/// checkpoint after them) with a full checkpoint (the hash index written too, what every periodic checkpoint did) against
/// a hybrid-log-only one over the last index checkpoint (what periodic and import checkpoints now take below
/// <see cref="ProfileStoreOptions.IndexCheckpointLogBytes"/>), at the default sizes (64 MB index, 4 MB pages). The bytes
/// the process wrote and read per operation (<c>/proc/self/io</c> wchar and rchar: checkpoint files, log pages, and
/// the integrity record's CRC reads) are printed at the end of each case.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 10)]
public class ProfileCheckpointBenchmarks
{
    private const int Members = 1_000_000;
    private const int Rewritten = Members / 100;
    private readonly ulong[] _ids = new ulong[Rewritten];
    private readonly MemberProfile[] _profiles = new MemberProfile[Rewritten];
    private ProfileStore _store = null!;
    private string _dir = string.Empty;
    private int _round;
    private long _operations;
    private (long Written, long Read) _ioAtStart;

    /// <summary>True: every checkpoint writes the index too (IndexCheckpointLogBytes = 0); false: the log only.</summary>
    [Params(true, false)]
    public bool Full { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "es-bench-profiles-" + Guid.NewGuid().ToString("N"));
        _store = ProfileStore.Open(new ProfileStoreOptions { DataDirectory = _dir, IndexCheckpointLogBytes = Full ? 0 : long.MaxValue });
        var ids = new ulong[10_000];
        var profiles = new MemberProfile[10_000];
        for (int first = 0; first < Members; first += ids.Length)
        {
            for (int i = 0; i < ids.Length; i++)
            {
                ids[i] = (ulong)(first + i);
                profiles[i] = new MemberProfile { Country = (ushort)i, Language = 1 };
            }

            _store.UpsertMany(ids, profiles);
        }

        _store.Checkpoint(); // the index checkpoint later log-only ones build on
        _ioAtStart = ProcessIo();
    }

    [IterationSetup]
    public void NextBatch()
    {
        // A different 1% each time, spread over the whole key space.
        _round++;
        for (int i = 0; i < Rewritten; i++)
        {
            _ids[i] = (ulong)(((i * 100L) + _round) % Members);
            _profiles[i] = new MemberProfile { Country = (ushort)_round, Language = 2 };
        }
    }

    /// <summary>Upserts 10,000 profiles and returns once they are in a completed checkpoint.</summary>
    [Benchmark]
    public bool ImportOnePercent()
    {
        _operations++;
        return _store.UpsertManyDurable(_ids, _profiles, TimeSpan.FromMinutes(5)).IsDurable;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var io = ProcessIo();
        Console.WriteLine(
            $"// profile checkpoint Full={Full}: {_operations} operations, {(io.Written - _ioAtStart.Written) / Math.Max(1, _operations) / 1024.0:F0} KiB written and "
            + $"{(io.Read - _ioAtStart.Read) / Math.Max(1, _operations) / 1024.0:F0} KiB read per operation (wchar/rchar), "
            + $"{_store.IndexCheckpointsTaken} of {_store.CheckpointsTaken} checkpoints full");
        _store.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static (long Written, long Read) ProcessIo()
    {
        long written = 0, read = 0;
        foreach (var line in File.ReadLines("/proc/self/io"))
        {
            if (line.StartsWith("wchar: ", StringComparison.Ordinal))
            {
                written = long.Parse(line.AsSpan(7), System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("rchar: ", StringComparison.Ordinal))
            {
                read = long.Parse(line.AsSpan(7), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return (written, read);
    }
}
