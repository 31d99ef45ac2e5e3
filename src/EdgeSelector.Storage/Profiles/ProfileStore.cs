using EdgeSelector.Core.Features;
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
/// </remarks>
public sealed class ProfileStore : IDisposable
{
    private readonly IDevice _logDevice;
    private readonly FasterKV<long, MemberProfile> _store;
    private readonly SessionPool<ClientSession<long, MemberProfile, MemberProfile, MemberProfile, Empty, SimpleFunctions<long, MemberProfile, Empty>>> _sessions;
    private readonly SemaphoreSlim _checkpointLock = new(1, 1);
    private readonly Timer? _checkpointTimer;
    private volatile bool _disposed;

    private ProfileStore(ProfileStoreOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DataDirectory);
        long pageBytes = Sizes.FloorPow2(options.PageBytes, nameof(options.PageBytes));
        long memoryBytes = Sizes.FloorPow2(options.MemoryBytes, nameof(options.MemoryBytes));
        long segmentBytes = Sizes.FloorPow2(options.SegmentBytes, nameof(options.SegmentBytes));
        if (memoryBytes < 4 * pageBytes || segmentBytes < pageBytes)
        {
            throw new ArgumentException("MemoryBytes must hold at least four pages and SegmentBytes at least one page.", nameof(options));
        }

        string root = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(Path.Combine(root, "log"));
        _logDevice = Devices.CreateLogDevice(Path.Combine(root, "log", "profiles.log"), preallocateFile: false, deleteOnClose: false, recoverDevice: true);
        try
        {
            using var settings = new FasterKVSettings<long, MemberProfile>
            {
                IndexSize = Sizes.FloorPow2(options.IndexBytes, nameof(options.IndexBytes)),
                LogDevice = _logDevice,
                MemorySize = memoryBytes,
                PageSize = pageBytes,
                SegmentSize = segmentBytes,
                CheckpointDir = Path.Combine(root, "checkpoints"),
                RemoveOutdatedCheckpoints = true,
                TryRecoverLatest = true,
            };
            _store = new FasterKV<long, MemberProfile>(settings);
            var functions = new SimpleFunctions<long, MemberProfile, Empty>();
            _sessions = new(() => _store.For(functions).NewSession<SimpleFunctions<long, MemberProfile, Empty>>(), options.SessionPoolSize);
        }
        catch
        {
            _store?.Dispose();
            _logDevice.Dispose();
            throw;
        }

        if (options.CheckpointInterval is { } interval)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
            _checkpointTimer = new Timer(static state => ((ProfileStore)state!).PeriodicCheckpoint(), this, interval, interval);
        }
    }

    /// <summary>Opens the store in <see cref="ProfileStoreOptions.DataDirectory"/>, recovering the latest checkpoint if any.</summary>
    public static ProfileStore Open(ProfileStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ProfileStore(options);
    }

    /// <summary>The exception of the last failed periodic checkpoint, if any (for health checks and metrics).</summary>
    public Exception? LastCheckpointFailure { get; private set; }

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
        }
    }

    /// <summary>Takes a checkpoint (index and hybrid log) and waits until it is durable.</summary>
    public void Checkpoint() => CheckpointAsync().GetAwaiter().GetResult();

    /// <summary>Takes a checkpoint (index and hybrid log); completes when it is durable.</summary>
    public async Task CheckpointAsync(CancellationToken cancellationToken = default)
    {
        await _checkpointLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var (success, _) = await _store.TakeFullCheckpointAsync(CheckpointType.FoldOver, cancellationToken).ConfigureAwait(false);
            if (!success)
            {
                throw new InvalidOperationException("FASTER refused to start a profile-store checkpoint.");
            }
        }
        finally
        {
            _checkpointLock.Release();
        }
    }

    /// <summary>Stops periodic checkpoints and disposes the store. Callers must have stopped using it; no checkpoint is taken.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _checkpointTimer?.Dispose();
        _checkpointLock.Wait();
        try
        {
            _disposed = true;
            _sessions.Dispose();
            _store.Dispose();
            _logDevice.Dispose();
        }
        finally
        {
            _checkpointLock.Release();
        }
    }

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

    private void PeriodicCheckpoint()
    {
        if (_disposed || _checkpointLock.CurrentCount == 0)
        {
            return; // one is running already
        }

        try
        {
            Checkpoint();
        }
        catch (ObjectDisposedException)
        {
            // Disposed between the check and the checkpoint.
        }
#pragma warning disable CA1031 // A timer callback must not throw (it would end the process); the failure is surfaced instead.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LastCheckpointFailure = e;
        }
    }
}
