using EdgeSelector.Storage.Health;
using FASTER.core;

namespace EdgeSelector.Storage.Models;

/// <summary>
/// The push path: bundle writes, commit, rollback and deletion of retired generations. A commit or rollback is made
/// visible to readers only once the checkpoint holding it is durable, so an acknowledged push survives kill -9 and a
/// push that could not be made durable never serves (issue 10, docs/reliability.md).
/// </summary>
public sealed partial class ModelStore
{
    /// <summary>
    /// Starts a push of bundle <paramref name="version"/>. With <paramref name="partial"/>, titles the bundle does not
    /// mention are copied from the active bundle at commit. Blocks while another push, rollback or checkpoint runs.
    /// </summary>
    public ModelBundleWriter BeginBundle(ulong version, bool partial = false) =>
        TryBeginBundle(version, partial, Timeout.InfiniteTimeSpan, out _)!;

    /// <summary>
    /// As <see cref="BeginBundle"/>, but waits at most <paramref name="wait"/> for the push lock and refuses at once
    /// while the store's writes are failing; null and the reason when it cannot start. Blocks the calling thread while it
    /// waits: for tools and tests; the server awaits <see cref="TryBeginBundleAsync"/>.
    /// </summary>
    public ModelBundleWriter? TryBeginBundle(ulong version, bool partial, TimeSpan wait, out string? reason)
    {
        (var writer, reason) = TryBeginBundleAsync(version, partial, wait).GetAwaiter().GetResult();
        return writer;
    }

    /// <summary>
    /// As <see cref="TryBeginBundle"/>, without holding a thread while it waits for the push lock: the writer, or null
    /// and why the push cannot start.
    /// </summary>
    public async Task<(ModelBundleWriter? Writer, string? Reason)> TryBeginBundleAsync(ulong version, bool partial, TimeSpan wait)
    {
        if (Health.IsWriteStalled)
        {
            return (null, Health.Describe());
        }

        if (!await _writeLock.WaitAsync(wait).ConfigureAwait(false))
        {
            return (null, _pendingWrite is { } pending
                ? $"models: the {pending} is still waiting for the disk"
                : "models: another push or rollback is running");
        }

        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_nextGeneration >= MetadataKeyBase)
            {
                throw new InvalidOperationException("Generation numbers are exhausted.");
            }

            uint generation = _nextGeneration++;
            return (new ModelBundleWriter(this, generation, version, partial, _store.Log.TailAddress), null);
        }
        catch
        {
            _writeLock.Release();
            throw;
        }
    }

    /// <summary>
    /// Null if the volume has room for a push of about <paramref name="bundleBytes"/> (the new generation's log pages,
    /// the compaction that follows and the hash-index checkpoint, with a margin); else why not.
    /// </summary>
    public string? CheckSpaceFor(long bundleBytes)
    {
        long need = (2 * bundleBytes) + _indexBytes + (16L << 20);
        return DiskSpace.AvailableBytes(_root) is { } free && free < need
            ? $"models: not enough disk space ({free >> 20} MB free; the checkpoint of this change needs about {need >> 20} MB)"
            : null;
    }

    /// <summary>
    /// Makes the previous bundle active again and deletes the current one (once no reader holds it). False if there
    /// is no previous bundle. Waits until the change is durable.
    /// </summary>
    public bool Rollback()
    {
        var result = TryRollback(Timeout.InfiniteTimeSpan);
        return result.Status == StoreWriteStatus.Durable
            ? true
            : result.Status == StoreWriteStatus.Nothing ? false : throw new InvalidOperationException(result.Reason);
    }

    /// <summary>
    /// Rolls back to the previous bundle; visible to readers only once durable. Waits at most <paramref name="within"/>
    /// for the lock and then for the checkpoint (<see cref="StoreWriteStatus.Pending"/>: it completes when the disk
    /// takes it); <see cref="StoreWriteStatus.Nothing"/> when there is no previous bundle. Blocks the calling thread:
    /// for tools and tests; the server awaits <see cref="TryRollbackAsync"/>.
    /// </summary>
    public StoreWriteResult TryRollback(TimeSpan within) => TryRollbackAsync(within).GetAwaiter().GetResult();

    /// <summary>As <see cref="TryRollback"/>, without holding a thread while it waits for the push lock or the checkpoint.</summary>
    public async Task<StoreWriteResult> TryRollbackAsync(TimeSpan within)
    {
        if (Health.IsWriteStalled)
        {
            return new(StoreWriteStatus.Busy, Health.Describe());
        }

        if (!await _writeLock.WaitAsync(within).ConfigureAwait(false))
        {
            return new(StoreWriteStatus.Busy, _pendingWrite is { } pending ? $"models: the {pending} is still waiting for the disk" : "models: another push or rollback is running");
        }

        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var history = _history;
            if (history.Length < 2)
            {
                _writeLock.Release();
                return new(StoreWriteStatus.Nothing, "no previous bundle to roll back to");
            }

            if (CheckSpaceFor(0) is { } noSpace)
            {
                _writeLock.Release();
                return new(StoreWriteStatus.Busy, noSpace);
            }

            var dropped = history[^1];
            var kept = history[..^1];
            WriteManifest(kept, [.. _pendingDelete, dropped], _metadata);
        }
        catch
        {
            _writeLock.Release();
            throw;
        }

        var rolledBack = _history;
        return await DurablyAsync(
            within,
            $"rollback to bundle {rolledBack[^2].Version}",
            onDurable: () =>
            {
                Volatile.Write(ref _history, rolledBack[..^1]);
                Volatile.Write(ref _active, rolledBack[^2]);
                Retire(rolledBack[^1]);
                DeleteUnpinnedRetired();
                WriteManifest();
                CompactBelowKeptGenerations();
            },
            onFailed: WriteManifest).ConfigureAwait(false);
    }

    /// <summary>The metadata a push stored in slot <paramref name="slot"/> (a copy), if any. Admin and start-up use.</summary>
    public bool TryGetMetadata(uint slot, out byte[] value)
    {
        if (Volatile.Read(ref _metadata).TryGetValue(slot, out var stored))
        {
            value = stored.ToArray();
            return true;
        }

        value = [];
        return false;
    }

    /// <summary>
    /// Stores metadata on its own (start-up migration of older files), durably, waiting at most
    /// <paramref name="within"/>. Blocks the calling thread (the server calls it once, at start-up, before it serves).
    /// </summary>
    public StoreWriteResult TryWriteMetadata(uint slot, ReadOnlySpan<byte> value, TimeSpan within) =>
        TryWriteMetadataAsync(slot, value.ToArray(), within).GetAwaiter().GetResult();

    private async Task<StoreWriteResult> TryWriteMetadataAsync(uint slot, byte[] value, TimeSpan within)
    {
        CheckSlot(slot);
        if (!await _writeLock.WaitAsync(within).ConfigureAwait(false))
        {
            return new(StoreWriteStatus.Busy, "models: another push or rollback is running");
        }

        var previous = _metadata;
        var updated = new Dictionary<uint, byte[]>(previous) { [slot] = value };
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            WriteMetadataValue(slot, value);
            WriteManifest(_history, _pendingDelete, updated);
        }
        catch
        {
            _writeLock.Release();
            throw;
        }

        return await DurablyAsync(
            within,
            "metadata update",
            onDurable: () => Volatile.Write(ref _metadata, updated),
            onFailed: () =>
            {
                RestoreMetadata(previous, [slot]);
                WriteManifest();
            }).ConfigureAwait(false);
    }

    internal void ReleaseWriteLock() => _writeLock.Release();

    internal void WriteModel(uint generation, uint titleId, ReadOnlySpan<byte> model)
    {
        if (model.Length > _maxModelBytes)
        {
            throw new ArgumentException($"Model of title {titleId} is {model.Length} bytes; the page size allows {_maxModelBytes}.", nameof(model));
        }

        model.CopyTo(_scratch.Ensure(model.Length));
        UpsertScratch(ModelKey(generation, titleId), model.Length);
    }

    /// <summary>
    /// Writes everything of the bundle into the KV, then checkpoints; publishes it to readers only once durable.
    /// Releases the push lock (now, or when a pending checkpoint ends). The writes run on the calling thread; the task
    /// completes when the checkpoint is durable or after <paramref name="within"/>, without holding a thread meanwhile.
    /// </summary>
    internal Task<StoreWriteResult> CommitBundleAsync(ModelBundleWriter writer, TimeSpan within, out ModelGenerationInfo info)
    {
        var previousMetadata = _metadata;
        Dictionary<uint, byte[]> metadata;
        GenerationState state;
        GenerationState[] kept;
        GenerationState[] dropped;
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var titles = writer.Titles;
            var current = _active;
            if (writer.Partial && current is not null)
            {
                var copy = new CopyVisitor(_scratch);
                foreach (uint titleId in current.TitleIds)
                {
                    if (!titles.Contains(titleId))
                    {
                        if (!ReadCore(current.Generation, titleId, ref copy))
                        {
                            throw new InvalidOperationException($"Title {titleId} of generation {current.Generation} is missing.");
                        }

                        UpsertScratch(ModelKey(writer.Generation, titleId), copy.Length);
                        titles.Add(titleId);
                    }
                }
            }

            var titleIds = titles.ToArray();
            Array.Sort(titleIds);
            WriteTitleList(writer.Generation, titleIds);

            state = new GenerationState(writer.Generation, writer.Version, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), titleIds, writer.StartAddress);
            var history = _history;
            int drop = Math.Max(0, history.Length + 1 - _options.MaxGenerations);
            kept = new GenerationState[history.Length + 1 - drop];
            Array.Copy(history, drop, kept, 0, history.Length - drop);
            kept[^1] = state;
            dropped = history[..drop];

            metadata = new Dictionary<uint, byte[]>(previousMetadata);
            foreach (var (slot, value) in writer.Metadata)
            {
                WriteMetadataValue(slot, value);
                metadata[slot] = value;
            }

            // The manifest the checkpoint captures: the new generation active, the dropped ones to be deleted on recovery.
            WriteManifest(kept, [.. _pendingDelete, .. dropped], metadata);
        }
        catch
        {
            RevertBundle(writer, previousMetadata);
            _writeLock.Release();
            throw;
        }

        info = state.Info;
        var published = state;
        return DurablyAsync(
            within,
            $"push of bundle {writer.Version}",
            onDurable: () =>
            {
                // The swap readers observe: one reference write. Everything of the new generation is already in the store.
                Volatile.Write(ref _history, kept);
                Volatile.Write(ref _active, published);
                Volatile.Write(ref _metadata, metadata);
                foreach (var generation in dropped)
                {
                    Retire(generation);
                }

                DeleteUnpinnedRetired();
                WriteManifest();
                CompactBelowKeptGenerations();
            },
            onFailed: () => RevertBundle(writer, previousMetadata));
    }

    internal void AbortBundle(ModelBundleWriter writer)
    {
        if (_disposed)
        {
            return;
        }

        foreach (uint titleId in writer.Titles)
        {
            DeleteKey(ModelKey(writer.Generation, titleId));
        }
    }

    /// <summary>
    /// Checkpoints (the caller holds the push lock and has written the change into the KV), then runs
    /// <paramref name="onDurable"/> or, if the checkpoint failed, <paramref name="onFailed"/>, and releases the lock.
    /// If the checkpoint is not durable within <paramref name="within"/> this returns <see cref="StoreWriteStatus.Pending"/>
    /// and finishes in the background when the disk takes the writes. No thread is held while the disk writes.
    /// </summary>
    private async Task<StoreWriteResult> DurablyAsync(TimeSpan within, string what, Action onDurable, Action onFailed)
    {
        _changedSinceCheckpoint = true;
        if (!_options.CheckpointOnChange)
        {
            onDurable();
            _writeLock.Release();
            RaisePublished();
            return StoreWriteResult.Durable;
        }

        var checkpoint = StartCheckpoint();

        // Completed (durable or failed) or still running after `within`: either way not thrown here, told apart below.
        await checkpoint.WaitAsync(within).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (checkpoint.IsCompleted)
        {
            return Finish(checkpoint, what, onDurable, onFailed);
        }

        _pendingWrite = what;
        _ = checkpoint.ContinueWith(
            task => Finish(task, what, onDurable, onFailed),
            CancellationToken.None,
            TaskContinuationOptions.None,
            TaskScheduler.Default);
        return new(StoreWriteStatus.Pending, $"models: the {what} is not durable yet ({Health.Describe() ?? "checkpoint still running"}); it takes effect when the disk takes it");
    }

    private StoreWriteResult Finish(Task checkpoint, string what, Action onDurable, Action onFailed)
    {
        // No longer pending before the outcome is published: a reader that sees the new version (or the undo) never
        // sees the write still pending (KvStoreFaultTests read the version, then PendingWrite).
        _pendingWrite = null;
        try
        {
            if (checkpoint.IsCompletedSuccessfully)
            {
                onDurable();
                RaisePublished();
                return StoreWriteResult.Durable;
            }

            var error = checkpoint.Exception?.GetBaseException();
            if (!_disposed)
            {
                onFailed();
            }

            return new(StoreWriteStatus.Failed, $"models: the {what} failed and was undone: {error?.Message}");
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void RaisePublished()
    {
        try
        {
            Published?.Invoke();
        }
#pragma warning disable CA1031 // A subscriber's failure must not undo or hide a durable write.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Undoes a bundle written into the KV but never published: its keys, its title list, the metadata, the manifest.</summary>
    private void RevertBundle(ModelBundleWriter writer, Dictionary<uint, byte[]> previous)
    {
        if (_disposed)
        {
            return;
        }

        foreach (uint titleId in writer.Titles)
        {
            DeleteKey(ModelKey(writer.Generation, titleId));
        }

        DeleteKey(ModelKey(0, writer.Generation));
        RestoreMetadata(previous, writer.Metadata.Keys);
        WriteManifest();
    }

    /// <summary>
    /// Starts a checkpoint (the caller holds the push lock) on a pool thread, so its synchronous start (FASTER's state
    /// machine) never runs on the caller's; the task completes when it is durable, without holding a thread meanwhile.
    /// </summary>
    private Task StartCheckpoint() => Task.Run(CheckpointCoreAsync);

    private async Task CheckpointCoreAsync()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);

        // Everything below the tail at the start is flushed once a fold-over checkpoint completes (only the push path
        // writes, and it holds the lock, so the tail does not move meanwhile).
        long flushed = _store.Log.TailAddress;
        var (success, token) = await _store.TakeFullCheckpointAsync(CheckpointType.FoldOver).ConfigureAwait(false);
        if (!success)
        {
            throw new InvalidOperationException("FASTER refused to start a model-store checkpoint.");
        }

        // The checkpoint's metadata files are written off FASTER's state machine (which a serving reader's session may
        // be running): durable, and the change published, only once they are on disk and recorded.
        await _checkpoints.RecordAsync(token, token, _store.Log.BeginAddress, flushed).ConfigureAwait(false);
        _changedSinceCheckpoint = false;
    }

    /// <summary>
    /// The periodic checkpoints: one task awaiting a <see cref="PeriodicTimer"/> (no thread held between ticks or while
    /// a checkpoint writes) until <see cref="Dispose"/> disposes the timer.
    /// </summary>
    private async Task RunPeriodicCheckpointsAsync(PeriodicTimer timer)
    {
        while (await timer.WaitForNextTickAsync().ConfigureAwait(false))
        {
            await PeriodicCheckpointAsync().ConfigureAwait(false);
        }
    }

    private async Task PeriodicCheckpointAsync()
    {
        // Never wait for a push: skip this tick if one is running.
        if (_disposed || !_writeLock.Wait(0))
        {
            return;
        }

        try
        {
            if (_changedSinceCheckpoint && !_disposed)
            {
                await StartCheckpoint().ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // The periodic loop must not end on a failure (later ticks retry); the failure is surfaced instead.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LastCheckpointFailure = e;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void Retire(GenerationState generation)
    {
        generation.RetireAndCheckUnpinned();
        _pendingDelete.Add(generation);
    }

    /// <summary>
    /// Deletes the models of retired generations no reader holds any more. Called on every push and rollback, so a
    /// generation a slow reader pinned is deleted at the next one.
    /// </summary>
    private void DeleteUnpinnedRetired()
    {
        for (int i = _pendingDelete.Count - 1; i >= 0; i--)
        {
            var generation = _pendingDelete[i];
            if (!generation.IsUnpinned)
            {
                continue;
            }

            foreach (uint titleId in generation.TitleIds)
            {
                DeleteKey(ModelKey(generation.Generation, titleId));
            }

            DeleteKey(ModelKey(0, generation.Generation));
            _pendingDelete.RemoveAt(i);
        }
    }

    /// <summary>
    /// Keeps the log (and its segment files) bounded: everything below the oldest generation still kept or awaiting
    /// deletion is dead except metadata records (manifest, title lists) that may have been updated in place there.
    /// FASTER's lookup compaction copies those live records to the tail and moves the begin address; the next
    /// integrity record that no longer needs them deletes the segment files below it (KvCheckpoints).
    /// </summary>
    private void CompactBelowKeptGenerations()
    {
        long until = long.MaxValue;
        foreach (var generation in _history)
        {
            until = Math.Min(until, generation.StartAddress);
        }

        foreach (var generation in _pendingDelete)
        {
            until = Math.Min(until, generation.StartAddress);
        }

        // Compaction may only cover the read-only part of the log.
        until = Math.Min(until, _store.Log.SafeReadOnlyAddress);
        if (until > _store.Log.BeginAddress)
        {
            _writer.Compact(until, CompactionType.Lookup);
        }
    }

    private void UpsertScratch(long key, int length)
    {
        var value = _scratch.AsSpanByte(length);
        var status = _writer.Upsert(ref key, ref value, default, 0);
        if (status.IsPending)
        {
            _writer.CompletePending(wait: true);
        }
    }

    private void DeleteKey(long key)
    {
        var status = _writer.Delete(ref key, default, 0);
        if (status.IsPending)
        {
            _writer.CompletePending(wait: true);
        }
    }
}
