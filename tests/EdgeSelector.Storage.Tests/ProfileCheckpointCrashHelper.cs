using EdgeSelector.Storage.Profiles;

namespace EdgeSelector.Storage.Tests;

/// <summary>
/// Child-process side of <see cref="ProfileCheckpointTests.Kill9_AfterPeriodicLogOnlyCheckpoints_EveryCheckpointedProfileIsRecovered"/>:
/// upserts batches of 1,000 profiles and, once a periodic checkpoint that started after a batch has completed, prints
/// "durable N" (the first N profiles are in a completed checkpoint) and the checkpoint counts, until the parent kills it.
/// </summary>
internal static class ProfileCheckpointCrashHelper
{
    public const string Verb = "profile-checkpoint-crash-helper";
    public const int Batch = 1_000;

    public static int Run(string directory)
    {
        var store = ProfileStore.Open(ProfileCheckpointTests.Options(directory, TimeSpan.FromMilliseconds(50)));
        var deadline = DateTime.UtcNow.AddSeconds(60); // the parent kills us long before; never outlive a dead parent
        for (int written = 0; DateTime.UtcNow < deadline; written += Batch)
        {
            // A write is counted once done, and a checkpoint holds the writes counted when it started.
            ProfileStoreTests.UpsertRange(store, written, Batch);
            long writes = store.Writes;
            while (store.CheckpointedWrites < writes && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(5);
            }

            Console.Out.WriteLine($"durable {written + Batch} checkpoints {store.CheckpointsTaken} index {store.IndexCheckpointsTaken}");
            Console.Out.Flush();
        }

        return 1;
    }
}
