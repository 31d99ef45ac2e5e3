using FASTER.core;

namespace EdgeSelector.Storage.Models;

/// <summary>The push path: bundle writes, commit, rollback and deletion of retired generations.</summary>
public sealed partial class ModelStore
{
    /// <summary>
    /// Starts a push of bundle <paramref name="version"/>. With <paramref name="partial"/>, titles the bundle does not
    /// mention are copied from the active bundle at commit. Blocks while another push, rollback or checkpoint runs.
    /// </summary>
    public ModelBundleWriter BeginBundle(ulong version, bool partial = false)
    {
        _writeLock.Wait();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            uint generation = _nextGeneration++;
            return new ModelBundleWriter(this, generation, version, partial, _store.Log.TailAddress);
        }
        catch
        {
            _writeLock.Release();
            throw;
        }
    }

    /// <summary>
    /// Makes the previous bundle active again and deletes the current one (once no reader holds it). False if there
    /// is no previous bundle. Checkpoints if configured.
    /// </summary>
    public bool Rollback()
    {
        _writeLock.Wait();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var history = _history;
            if (history.Length < 2)
            {
                return false;
            }

            var dropped = history[^1];
            var kept = history[..^1];
            Volatile.Write(ref _history, kept);
            Volatile.Write(ref _active, kept[^1]);
            Retire(dropped);
            DeleteUnpinnedRetired();
            WriteManifest();
            CompactBelowKeptGenerations();
            CheckpointAfterChange();

            return true;
        }
        finally
        {
            _writeLock.Release();
        }
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

    internal ModelGenerationInfo CommitBundle(ModelBundleWriter writer)
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

        var state = new GenerationState(writer.Generation, writer.Version, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), titleIds, writer.StartAddress);
        var history = _history;
        int drop = Math.Max(0, history.Length + 1 - _options.MaxGenerations);
        var kept = new GenerationState[history.Length + 1 - drop];
        Array.Copy(history, drop, kept, 0, history.Length - drop);
        kept[^1] = state;

        // The swap readers observe: one reference write. Everything of the new generation is already in the store.
        Volatile.Write(ref _history, kept);
        Volatile.Write(ref _active, state);

        for (int i = 0; i < drop; i++)
        {
            Retire(history[i]);
        }

        DeleteUnpinnedRetired();
        WriteManifest();
        CompactBelowKeptGenerations();
        CheckpointAfterChange();

        return state.Info;
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
    /// checkpoint deletes the segment files below it.
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
