using EdgeSelector.Storage.Internal;
using FASTER.core;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>
/// The profile store's checkpoint metadata is written off FASTER's state machine (docs/performance.md, "Thread-pool
/// floor", "What blocks"): a commit returns while the write is still blocked, the writes happen in order, and
/// <see cref="DeferredCommitCheckpointManager.WhenWritten"/> completes only once they are done, with their failure. No
/// timing is asserted: the waits below only bound a test that would otherwise hang.
/// </summary>
public sealed class DeferredCommitTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Commit_WhileTheWriteBlocks_Returns_AndWhenWrittenWaitsForIt()
    {
        using var gate = new ManualResetEventSlim();
        var inner = new RecordingManager(gate);
        var manager = new DeferredCommitCheckpointManager(inner);
        var index = Guid.NewGuid();
        var log = Guid.NewGuid();

        var commits = Task.Run(() =>
        {
            manager.CommitIndexCheckpoint(index, [1]);
            manager.CommitLogCheckpoint(log, [2]);
        });
        await commits.WaitAsync(Long); // throws TimeoutException if a commit waited for its (blocked) write
        var written = manager.WhenWritten();
        Assert.False(written.IsCompleted);

        gate.Set();
        await written.WaitAsync(Long);
        Assert.Equal([("index", index), ("log", log)], inner.Written);
    }

    [Fact]
    public async Task WhenWritten_ReportsAFailedWriteOnce()
    {
        using var gate = new ManualResetEventSlim(initialState: true);
        var inner = new RecordingManager(gate) { FailIndex = true };
        var manager = new DeferredCommitCheckpointManager(inner);

        manager.CommitIndexCheckpoint(Guid.NewGuid(), [1]);
        manager.CommitLogCheckpoint(Guid.NewGuid(), [2]);
        await Assert.ThrowsAsync<IOException>(() => manager.WhenWritten().WaitAsync(Long));
        Assert.Equal(2, inner.Written.Count); // the log commit after the failed one was still written

        inner.FailIndex = false;
        manager.CommitLogCheckpoint(Guid.NewGuid(), [3]);
        await manager.WhenWritten().WaitAsync(Long);
        Assert.Equal(3, inner.Written.Count);
    }

    private sealed class RecordingManager(ManualResetEventSlim gate) : ICheckpointManager
    {
        public List<(string Kind, Guid Token)> Written { get; } = [];

        public bool FailIndex { get; set; }

        public void CommitIndexCheckpoint(Guid indexToken, byte[] commitMetadata)
        {
            Assert.True(gate.Wait(Long));
            lock (Written)
            {
                Written.Add(("index", indexToken));
            }

            if (FailIndex)
            {
                throw new IOException("index metadata write failed");
            }
        }

        public void CommitLogCheckpoint(Guid logToken, byte[] commitMetadata)
        {
            Assert.True(gate.Wait(Long));
            lock (Written)
            {
                Written.Add(("log", logToken));
            }
        }

        public void InitializeIndexCheckpoint(Guid indexToken) => throw new NotSupportedException();

        public void InitializeLogCheckpoint(Guid logToken) => throw new NotSupportedException();

        public void CheckpointVersionShift(long oldVersion, long newVersion) => throw new NotSupportedException();

        public void CommitLogIncrementalCheckpoint(Guid logToken, long version, byte[] commitMetadata, DeltaLog deltaLog) => throw new NotSupportedException();

        public byte[] GetIndexCheckpointMetadata(Guid indexToken) => throw new NotSupportedException();

        public byte[] GetLogCheckpointMetadata(Guid logToken, DeltaLog deltaLog, bool scanDelta = false, long recoverTo = -1) => throw new NotSupportedException();

        public IEnumerable<Guid> GetIndexCheckpointTokens() => throw new NotSupportedException();

        public IEnumerable<Guid> GetLogCheckpointTokens() => throw new NotSupportedException();

        public IDevice GetIndexDevice(Guid indexToken) => throw new NotSupportedException();

        public IDevice GetSnapshotLogDevice(Guid token) => throw new NotSupportedException();

        public IDevice GetSnapshotObjectLogDevice(Guid token) => throw new NotSupportedException();

        public IDevice GetDeltaLogDevice(Guid token) => throw new NotSupportedException();

        public void Purge(Guid token) => throw new NotSupportedException();

        public void PurgeAll() => throw new NotSupportedException();

        public void OnRecovery(Guid indexToken, Guid logToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
