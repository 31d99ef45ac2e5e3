using EdgeSelector.Core.Features;
using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Internal;
using FASTER.core;

namespace EdgeSelector.Storage.Profiles;

/// <summary>
/// Member id → <see cref="MemberProfile"/> in a FASTER hybrid log: the newest profiles are in memory, the rest in
/// log segments on disk, so a node can hold far more members than its memory budget. Thread-safe. See docs/storage.md.
/// </summary>
/// <remarks>
/// A read of a profile that was evicted to disk goes pending and is completed synchronously on the calling thread
/// (CompletePending with wait): one random SSD read, roughly 0.1–1 ms, during which that thread is blocked.
/// Reads served from memory take no I/O and allocate nothing (see AllocationTests).
/// <see cref="UpsertManyDurableAsync"/> (the admin import) completes only once the batch is in a durable checkpoint; files are
/// verified at open (ProfileStore.Open.cs, docs/reliability.md). Periodic and import checkpoints write the hybrid log
/// only, over the last index checkpoint, and the index too once the log has grown
/// <see cref="ProfileStoreOptions.IndexCheckpointLogBytes"/> past it (docs/storage.md, "Checkpoints").
/// </remarks>
public sealed partial class ProfileStore : IDisposable
{
    private readonly ProfileStoreOptions _options;
    private readonly string _root;
    private readonly long _pageBytes;
    private readonly long _memoryBytes;
    private readonly long _segmentBytes;
    private readonly long _indexBytes;
    private IDevice _logDevice = null!;
    private FasterKV<long, MemberProfile> _store = null!;
    private KvCheckpoints _checkpoints = null!;
    private SessionPool<ClientSession<long, MemberProfile, MemberProfile, MemberProfile, Empty, SimpleFunctions<long, MemberProfile, Empty>>> _sessions = null!;
    private readonly SemaphoreSlim _checkpointLock = new(1, 1);
    private readonly PeriodicTimer? _checkpointTimer;
    private Guid _indexToken;
    // Log tail when the index checkpoint _indexToken started: recovery replays the log from about there, so once the
    // tail is IndexCheckpointLogBytes past it the next periodic or import checkpoint writes the index too.
    private long _indexTailAddress;
    private long _indexCheckpointsTaken;
    // Writes (upserts, deletes) since the store opened, and how many of them the last completed checkpoint holds: the
    // timer skips a checkpoint that would write nothing new (a full one rewrites the whole index, which on a node's
    // shared core stalls serving: docs/performance.md). What a recovered store holds is durable already.
    private long _writes;
    private long _checkpointedWrites;
    private long _checkpointsTaken;
    private volatile bool _pending;
    private volatile bool _disposed;

    private ProfileStore(ProfileStoreOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DataDirectory);
        _options = options;
        _pageBytes = Sizes.FloorPow2(options.PageBytes, nameof(options.PageBytes));
        _memoryBytes = Sizes.FloorPow2(options.MemoryBytes, nameof(options.MemoryBytes));
        _segmentBytes = Sizes.FloorPow2(options.SegmentBytes, nameof(options.SegmentBytes));
        _indexBytes = Sizes.FloorPow2(options.IndexBytes, nameof(options.IndexBytes));
        if (_memoryBytes < 4 * _pageBytes || _segmentBytes < _pageBytes)
        {
            throw new ArgumentException("MemoryBytes must hold at least four pages and SegmentBytes at least one page.", nameof(options));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(options.IndexCheckpointLogBytes);
        _root = Path.GetFullPath(options.DataDirectory);
        Health = new DeviceHealth(options.Name, options.Faults);
        OpenReport = KvOpen.Open(options.Name, _root, options.OnDamage, this);
        if (OpenReport.Outcome == StoreOpenOutcome.RecoveredFromLog)
        {
            // The index was rebuilt from the log: write it at once, so the next start loads it instead of scanning the
            // whole log again, and the damaged index checkpoint is no longer the only one.
            try
            {
                CheckpointCoreAsync(full: true).GetAwaiter().GetResult(); // start-up: no caller to hold off yet
                OpenReport = OpenReport with { Message = OpenReport.Message + "; a fresh full checkpoint was written" };
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                OpenReport = OpenReport with { Message = $"{OpenReport.Message}; the fresh full checkpoint failed ({e.Message}): the next checkpoint writes the index" };
            }
        }

        if (options.CheckpointInterval is { } interval)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
            _checkpointTimer = new PeriodicTimer(interval);
            _ = RunPeriodicCheckpointsAsync(_checkpointTimer);
        }
    }

    /// <summary>Opens the store in <see cref="ProfileStoreOptions.DataDirectory"/>, recovering the latest checkpoint if any.</summary>
    public static ProfileStore Open(ProfileStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ProfileStore(options);
    }

    /// <summary>Checkpoints completed since the store opened (periodic, explicit, after imports).</summary>
    public long CheckpointsTaken => Volatile.Read(ref _checkpointsTaken);

    /// <summary>
    /// How many of <see cref="CheckpointsTaken"/> were full (the hash index written too); the rest wrote the hybrid log
    /// only, over the last index checkpoint.
    /// </summary>
    public long IndexCheckpointsTaken => Volatile.Read(ref _indexCheckpointsTaken);

    /// <summary>Write calls (upserts, upsert batches, deletes) since the store opened (tests).</summary>
    internal long Writes => Volatile.Read(ref _writes);

    /// <summary>How many of <see cref="Writes"/> the last completed checkpoint holds (tests).</summary>
    internal long CheckpointedWrites => Volatile.Read(ref _checkpointedWrites);

    /// <summary>The exception of the last failed periodic checkpoint, if any (for health checks and metrics).</summary>
    public Exception? LastCheckpointFailure { get; private set; }

    /// <summary>The state of the store's files: whether writes are failing (disk full, I/O error) and why.</summary>
    public DeviceHealth Health { get; }

    /// <summary>What the store found when it opened its files.</summary>
    public StoreOpenReport OpenReport { get; }

    /// <summary>True while a checkpoint waits for the disk (an import answered "not durable yet").</summary>
    public bool IsCheckpointPending => _pending;

    /// <summary>Log address below which records are on disk only (diagnostics: compare with <see cref="TailAddress"/>).</summary>
    public long HeadAddress => _store.Log.HeadAddress;

    /// <summary>Log tail address: bytes appended since the store was created.</summary>
    public long TailAddress => _store.Log.TailAddress;

    /// <summary>Reads a member's profile; false if the member is unknown. Blocks for one disk read if it was evicted.</summary>
    public bool TryGet(ulong memberId, out MemberProfile profile)
    {
        var session = _sessions.Rent();
        try
        {
            long key = (long)memberId;
            MemberProfile input = default;
            profile = default;
            var status = session.Read(ref key, ref input, ref profile, default, 0);
            if (!status.IsPending)
            {
                return status.Found;
            }

            return CompletePendingRead(session, out profile);
        }
        finally
        {
            _sessions.Return(session);
        }
    }

    /// <summary>
    /// A FASTER session of the store's own for one reader (a connection): it holds the epoch per batch instead of per
    /// read (<see cref="ProfileReadSession"/>). Dispose it when the reader is done.
    /// </summary>
    public ProfileReadSession OpenReadSession()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new ProfileReadSession(_sessions);
    }

    /// <summary>Inserts or replaces one profile.</summary>
    public void Upsert(ulong memberId, in MemberProfile profile)
    {
        var session = _sessions.Rent();
        try
        {
            UpsertOne(session, memberId, profile);
        }
        finally
        {
            _sessions.Return(session);
            Interlocked.Increment(ref _writes); // after the write: a checkpoint that counts it started after it
        }
    }

    /// <summary>Inserts or replaces many profiles with one session (the admin <c>PUT /v1/profiles</c> path).</summary>
    public void UpsertMany(ReadOnlySpan<ulong> memberIds, ReadOnlySpan<MemberProfile> profiles)
    {
        if (memberIds.Length != profiles.Length)
        {
            throw new ArgumentException("One profile per member id is required.", nameof(profiles));
        }

        var session = _sessions.Rent();
        try
        {
            for (int i = 0; i < memberIds.Length; i++)
            {
                UpsertOne(session, memberIds[i], profiles[i]);
            }
        }
        finally
        {
            _sessions.Return(session);
            Interlocked.Increment(ref _writes);
        }
    }

    /// <summary>Removes a member's profile.</summary>
    public void Delete(ulong memberId)
    {
        var session = _sessions.Rent();
        try
        {
            long key = (long)memberId;
            if (session.Delete(ref key, default, 0).IsPending)
            {
                session.CompletePending(wait: true);
            }
        }
        finally
        {
            _sessions.Return(session);
            Interlocked.Increment(ref _writes);
        }
    }

    /// <summary>
    /// Upserts a batch and returns once it is durable (a hybrid-log checkpoint: only the new log pages are written), or
    /// after <paramref name="within"/> with <see cref="StoreWriteStatus.Pending"/> (the checkpoint waits for the disk;
    /// the profiles are already readable but would be lost by a crash before it completes). Refused at once
    /// (<see cref="StoreWriteStatus.Busy"/>) while writes fail, when the disk lacks room, or while an earlier
    /// checkpoint still waits. Upserts are idempotent, so the caller simply retries. Blocks the calling thread: for
    /// tools and tests; the server awaits <see cref="UpsertManyDurableAsync"/>.
    /// </summary>
    public StoreWriteResult UpsertManyDurable(ReadOnlySpan<ulong> memberIds, ReadOnlySpan<MemberProfile> profiles, TimeSpan within) =>
        UpsertManyDurableAsync(memberIds.ToArray(), profiles.ToArray(), within).GetAwaiter().GetResult();

    /// <summary>
    /// As <see cref="UpsertManyDurable"/>, without holding a thread while it waits for the checkpoint lock or the
    /// checkpoint (the admin <c>PUT /v1/profiles</c> path runs on the thread pool: docs/performance.md, "Thread-pool
    /// floor"). The upserts run on the calling thread (or the one that released the lock) before the first wait for disk.
    /// </summary>
    public async Task<StoreWriteResult> UpsertManyDurableAsync(ReadOnlyMemory<ulong> memberIds, ReadOnlyMemory<MemberProfile> profiles, TimeSpan within)
    {
        if (memberIds.Length != profiles.Length)
        {
            throw new ArgumentException("One profile per member id is required.", nameof(profiles));
        }

        if (Health.IsWriteStalled)
        {
            return new(StoreWriteStatus.Busy, Health.Describe());
        }

        long need = (2L * memberIds.Length * 88) + (16L << 20);
        if (DiskSpace.AvailableBytes(_root) is { } free && free < need)
        {
            return new(StoreWriteStatus.Busy, $"profiles: not enough disk space ({free >> 20} MB free; this batch needs about {need >> 20} MB)");
        }

        if (!await _checkpointLock.WaitAsync(within).ConfigureAwait(false))
        {
            return new(StoreWriteStatus.Busy, "profiles: an earlier checkpoint is still waiting for the disk");
        }

        Task checkpoint;
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            UpsertMany(memberIds.Span, profiles.Span);
            checkpoint = StartCheckpoint(full: IndexCheckpointDue());
        }
        catch
        {
            _checkpointLock.Release();
            throw;
        }

        return await FinishAsync(checkpoint, within, "import").ConfigureAwait(false);
    }

    /// <summary>Takes a full checkpoint (index and hybrid log) and waits until it is durable.</summary>
    public void Checkpoint() => CheckpointAsync().GetAwaiter().GetResult();

    /// <summary>Takes a full checkpoint (index and hybrid log); completes when it is durable.</summary>
    public async Task CheckpointAsync(CancellationToken cancellationToken = default)
    {
        await _checkpointLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Task.Run(() => CheckpointCoreAsync(full: true), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _checkpointLock.Release();
        }
    }

    /// <summary>A full checkpoint waiting at most <paramref name="within"/> (shutdown); false if it did not complete in time.</summary>
    public bool TryCheckpoint(TimeSpan within) => TryCheckpointAsync(within).GetAwaiter().GetResult();

    /// <summary>As <see cref="TryCheckpoint"/>, without holding a thread while it waits.</summary>
    public async Task<bool> TryCheckpointAsync(TimeSpan within)
    {
        if (!await _checkpointLock.WaitAsync(within).ConfigureAwait(false))
        {
            return false;
        }

        var checkpoint = StartCheckpoint(full: true);
        return (await FinishAsync(checkpoint, within, "checkpoint").ConfigureAwait(false)).IsDurable;
    }

    /// <summary>
    /// The checkpoint the periodic timer takes — the hybrid log only, over the last index checkpoint, or a full one when
    /// there is none yet or the log grew <see cref="ProfileStoreOptions.IndexCheckpointLogBytes"/> past it — waiting at
    /// most <paramref name="within"/>; false if it did not complete in time. For callers that checkpoint often (the fleet
    /// follower persisting its stream position), where a full checkpoint each time would rewrite the whole index.
    /// </summary>
    public bool TryCheckpointLog(TimeSpan within) => TryCheckpointLogAsync(within).GetAwaiter().GetResult();

    /// <summary>As <see cref="TryCheckpointLog"/>, without holding a thread while it waits (the fleet's profile follower).</summary>
    public async Task<bool> TryCheckpointLogAsync(TimeSpan within)
    {
        if (!await _checkpointLock.WaitAsync(within).ConfigureAwait(false))
        {
            return false;
        }

        var checkpoint = StartCheckpoint(full: IndexCheckpointDue());
        return (await FinishAsync(checkpoint, within, "checkpoint").ConfigureAwait(false)).IsDurable;
    }

    /// <summary>
    /// Stops periodic checkpoints and disposes the store. Callers must have stopped using it; no checkpoint is taken.
    /// Waits at most <see cref="ProfileStoreOptions.CloseTimeout"/> for a checkpoint still running (one waiting for a
    /// failing disk is abandoned: the store is then left to the process's exit).
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _checkpointTimer?.Dispose();
        if (!_checkpointLock.Wait(_options.CloseTimeout))
        {
            Health.Abandon();
            if (!_checkpointLock.Wait(_options.CloseTimeout))
            {
                _disposed = true;
                return;
            }
        }

        try
        {
            _disposed = true;
            DestroyFaster();
        }
        finally
        {
            _checkpointLock.Release();
        }
    }

    /// <summary>Waits for a checkpoint started under the lock; releases the lock now or when the checkpoint ends.</summary>
    private async Task<StoreWriteResult> FinishAsync(Task checkpoint, TimeSpan within, string what)
    {
        // Completed (durable or failed) or still running after `within`: either way not thrown here, told apart below.
        await checkpoint.WaitAsync(within).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (checkpoint.IsCompleted)
        {
            _checkpointLock.Release();
            return checkpoint.IsCompletedSuccessfully
                ? StoreWriteResult.Durable
                : new(StoreWriteStatus.Failed, $"profiles: {what} checkpoint failed ({checkpoint.Exception?.GetBaseException().Message}); the profiles are readable but not durable");
        }

        _pending = true;
        _ = checkpoint.ContinueWith(
            _ =>
            {
                _pending = false;
                _checkpointLock.Release();
            },
            CancellationToken.None,
            TaskContinuationOptions.None,
            TaskScheduler.Default);
        return new(StoreWriteStatus.Pending, $"profiles: the {what} is not durable yet ({Health.Describe() ?? "checkpoint still running"}); it becomes durable when the disk takes it");
    }

    /// <summary>
    /// Starts a checkpoint (the caller holds the checkpoint lock) on a pool thread, so its synchronous start (FASTER's
    /// state machine) never runs on the caller's; the task completes when the checkpoint is durable, without holding a
    /// thread while the disk writes.
    /// </summary>
    private Task StartCheckpoint(bool full) => Task.Run(() => CheckpointCoreAsync(full));

    /// <summary>A checkpoint (full: index and log; else the log only, over the last index checkpoint) and its integrity record.</summary>
    private async Task CheckpointCoreAsync(bool full)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);

        // Everything below the tail at the start is flushed once a fold-over checkpoint completes, and with it every
        // write counted before the start.
        var writes = Volatile.Read(ref _writes);
        long flushed = _store.Log.TailAddress;
        var (success, token) = full
            ? await _store.TakeFullCheckpointAsync(CheckpointType.FoldOver).ConfigureAwait(false)
            : await _store.TakeHybridLogCheckpointAsync(CheckpointType.FoldOver).ConfigureAwait(false);
        if (!success)
        {
            throw new InvalidOperationException("FASTER refused to start a profile-store checkpoint.");
        }

        // The checkpoint's metadata files are written off FASTER's state machine (which a serving session may be
        // running on the socket event loop): durable only once they are on disk and recorded.
        var indexToken = full ? token : _indexToken;
        await _checkpoints.RecordAsync(indexToken, token, _store.Log.BeginAddress, flushed).ConfigureAwait(false);
        if (full)
        {
            _indexToken = token;
            _indexTailAddress = flushed;
        }

        Volatile.Write(ref _checkpointedWrites, writes);
        Interlocked.Increment(ref _checkpointsTaken);
        if (full)
        {
            Interlocked.Increment(ref _indexCheckpointsTaken);
        }
    }

    /// <summary>
    /// Whether the next periodic or import checkpoint must write the index too: there is no index checkpoint to build
    /// on, or recovery would replay more than <see cref="ProfileStoreOptions.IndexCheckpointLogBytes"/> of log after it.
    /// Called under the checkpoint lock.
    /// </summary>
    private bool IndexCheckpointDue() =>
        _indexToken == Guid.Empty || _store.Log.TailAddress - _indexTailAddress > _options.IndexCheckpointLogBytes;

    private static void UpsertOne(
        ClientSession<long, MemberProfile, MemberProfile, MemberProfile, Empty, SimpleFunctions<long, MemberProfile, Empty>> session,
        ulong memberId,
        MemberProfile profile)
    {
        long key = (long)memberId;
        if (session.Upsert(ref key, ref profile, default, 0).IsPending)
        {
            session.CompletePending(wait: true);
        }
    }

    private static bool CompletePendingRead(
        ClientSession<long, MemberProfile, MemberProfile, MemberProfile, Empty, SimpleFunctions<long, MemberProfile, Empty>> session,
        out MemberProfile profile)
    {
        profile = default;
        bool found = false;
        session.CompletePendingWithOutputs(out var outputs, wait: true);
        try
        {
            while (outputs.Next())
            {
                found = outputs.Current.Status.Found;
                profile = outputs.Current.Output;
            }
        }
        finally
        {
            outputs.Dispose();
        }

        return found;
    }

    /// <summary>
    /// The periodic checkpoints: one task awaiting a <see cref="PeriodicTimer"/> (no thread held between ticks or while
    /// a checkpoint writes) until <see cref="Dispose"/> disposes the timer. A tick that finds a checkpoint running skips.
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
        if (Volatile.Read(ref _writes) == Volatile.Read(ref _checkpointedWrites) && LastCheckpointFailure is null)
        {
            return; // nothing written since the last checkpoint
        }

        if (_disposed || !_checkpointLock.Wait(0))
        {
            return; // one is running already (or waits for the disk)
        }

        try
        {
            var checkpoint = StartCheckpoint(full: IndexCheckpointDue());
            await checkpoint.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!checkpoint.IsCompleted)
            {
                // Waiting for the disk: keep the lock until it ends; the next ticks skip meanwhile.
                _pending = true;
                _ = checkpoint.ContinueWith(
                    task =>
                    {
                        LastCheckpointFailure = task.Exception?.GetBaseException();
                        _pending = false;
                        _checkpointLock.Release();
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.None,
                    TaskScheduler.Default);
                return;
            }

            LastCheckpointFailure = checkpoint.Exception?.GetBaseException();
            _checkpointLock.Release();
        }
#pragma warning disable CA1031 // The periodic loop must not end on a failure (later ticks retry); the failure is surfaced instead.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LastCheckpointFailure = e;
            _checkpointLock.Release();
        }
    }
}
