using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using EdgeSelector.Core.Features;
using EdgeSelector.Storage.Profiles;

namespace EdgeSelector.Benchmarks.Storage;

/// <summary>
/// What <see cref="ProfileStoreOptions.IndexCheckpointLogBytes"/> bounds: opening a store of 1M profiles and then
/// <see cref="ReplayedMegabytes"/> of log appended after its index checkpoint (new members: a rewrite of a record still
/// in the mutable region is made in place and appends nothing), at the default sizes (64 MB index), whose last
/// checkpoint is log-only (recovery loads the index and replays that log) against the same store whose last checkpoint
/// is full.
/// Opening verifies every file's CRC and recovers (KvOpen); the store is closed again after each open.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class ProfileRecoveryBenchmarks
{
    private const int Members = 1_000_000;
    private string _dir = string.Empty;

    /// <summary>Log written after the index checkpoint (profile rewrites of 88 bytes each).</summary>
    [Params(256)]
    public int ReplayedMegabytes { get; set; }

    /// <summary>True: the last checkpoint is full (nothing to replay); false: log-only over the first index checkpoint.</summary>
    [Params(true, false)]
    public bool LastFull { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "es-bench-recovery-" + Guid.NewGuid().ToString("N"));
        using var store = ProfileStore.Open(Options(_dir));
        var ids = new ulong[10_000];
        var profiles = new MemberProfile[10_000];
        void Write(int first, ushort round)
        {
            for (int i = 0; i < ids.Length; i++)
            {
                ids[i] = (ulong)(first + i);
                profiles[i] = new MemberProfile { Country = round, Language = 1 };
            }

            store.UpsertMany(ids, profiles);
        }

        for (int first = 0; first < Members; first += ids.Length)
        {
            Write(first, 0);
        }

        store.Checkpoint();
        long start = store.TailAddress;
        for (int first = Members; store.TailAddress - start < (long)ReplayedMegabytes << 20; first += ids.Length)
        {
            Write(first, 1);
        }

        if (LastFull)
        {
            store.Checkpoint();
        }
        else if (!store.UpsertManyDurable(ids, profiles, TimeSpan.FromMinutes(5)).IsDurable)
        {
            throw new InvalidOperationException("the log-only checkpoint did not complete");
        }

        if (store.IndexCheckpointsTaken != (LastFull ? 2 : 1))
        {
            throw new InvalidOperationException($"{store.IndexCheckpointsTaken} index checkpoints");
        }
    }

    /// <summary>Opens (verifies and recovers) the store and closes it.</summary>
    [Benchmark]
    public long Open()
    {
        using var store = ProfileStore.Open(Options(_dir));
        return store.TailAddress;
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);

    private static ProfileStoreOptions Options(string directory) => new() { DataDirectory = directory, IndexCheckpointLogBytes = long.MaxValue };
}
