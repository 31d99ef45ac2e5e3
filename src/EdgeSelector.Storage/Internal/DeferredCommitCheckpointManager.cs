using FASTER.core;

namespace EdgeSelector.Storage.Internal;

/// <summary>
/// A checkpoint manager whose index and log commits (the checkpoint's metadata files) are written off the calling
/// thread, in order, on a thread of their own (docs/performance.md, "Thread-pool floor", "What blocks"). FASTER writes
/// them from its checkpoint state machine, on whichever session advances it: that can be a serving session refreshing
/// on the socket event loop, and <see cref="DeviceLogCommitCheckpointManager"/> blocks until the device write's callback
/// runs. Here the commit is queued and returns; the store's checkpoint task awaits <see cref="WhenWritten"/> before it
/// records the checkpoint and reports it durable. A crash before the write leaves a checkpoint without metadata and
/// without an integrity record, which recovery does not use (KvOpen).
/// </summary>
internal sealed class DeferredCommitCheckpointManager(ICheckpointManager inner) : ICheckpointManager
{
    private readonly object _gate = new();
    private Task _tail = Task.CompletedTask;

    /// <summary>
    /// Completes when every commit queued so far is written; faults if one of them failed since the last call (a
    /// failure is reported once: later calls start clean).
    /// </summary>
    public Task WhenWritten()
    {
        lock (_gate)
        {
            var written = _tail;
            _tail = written.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return written;
        }
    }

    public void CommitIndexCheckpoint(Guid indexToken, byte[] commitMetadata) =>
        Defer(() => inner.CommitIndexCheckpoint(indexToken, commitMetadata));

    public void CommitLogCheckpoint(Guid logToken, byte[] commitMetadata) =>
        Defer(() => inner.CommitLogCheckpoint(logToken, commitMetadata));

    public void InitializeIndexCheckpoint(Guid indexToken) => inner.InitializeIndexCheckpoint(indexToken);

    public void InitializeLogCheckpoint(Guid logToken) => inner.InitializeLogCheckpoint(logToken);

    public void CheckpointVersionShift(long oldVersion, long newVersion) => inner.CheckpointVersionShift(oldVersion, newVersion);

    public void CommitLogIncrementalCheckpoint(Guid logToken, long version, byte[] commitMetadata, DeltaLog deltaLog) =>
        inner.CommitLogIncrementalCheckpoint(logToken, version, commitMetadata, deltaLog);

    public byte[] GetIndexCheckpointMetadata(Guid indexToken) => inner.GetIndexCheckpointMetadata(indexToken);

    public byte[] GetLogCheckpointMetadata(Guid logToken, DeltaLog deltaLog, bool scanDelta = false, long recoverTo = -1) =>
        inner.GetLogCheckpointMetadata(logToken, deltaLog, scanDelta, recoverTo);

    public IEnumerable<Guid> GetIndexCheckpointTokens() => inner.GetIndexCheckpointTokens();

    public IEnumerable<Guid> GetLogCheckpointTokens() => inner.GetLogCheckpointTokens();

    public IDevice GetIndexDevice(Guid indexToken) => inner.GetIndexDevice(indexToken);

    public IDevice GetSnapshotLogDevice(Guid token) => inner.GetSnapshotLogDevice(token);

    public IDevice GetSnapshotObjectLogDevice(Guid token) => inner.GetSnapshotObjectLogDevice(token);

    public IDevice GetDeltaLogDevice(Guid token) => inner.GetDeltaLogDevice(token);

    public void Purge(Guid token) => inner.Purge(token);

    public void PurgeAll() => inner.PurgeAll();

    public void OnRecovery(Guid indexToken, Guid logToken) => inner.OnRecovery(indexToken, logToken);

    public void Dispose() => inner.Dispose();

    private void Defer(Action write)
    {
        lock (_gate)
        {
            // In order; a failure travels down the chain to the next WhenWritten. Long-running: the inner write blocks
            // its thread until the device's callback, so it gets a thread of its own rather than a pool thread.
            _tail = _tail.ContinueWith(
                static (previous, state) =>
                {
                    ((Action)state!)();
                    previous.GetAwaiter().GetResult();
                },
                write,
                CancellationToken.None,
                TaskContinuationOptions.LongRunning,
                TaskScheduler.Default);
        }
    }
}
