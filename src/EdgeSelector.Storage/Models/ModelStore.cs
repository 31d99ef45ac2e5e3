using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Internal;
using FASTER.core;

namespace EdgeSelector.Storage.Models;

/// <summary>
/// Per-title model blobs in a FASTER KV store, versioned by bundle: readers see the whole active bundle or the whole
/// previous one, never a mix; <see cref="Rollback"/> returns to the previous bundle. See docs/storage.md.
/// </summary>
/// <remarks>
/// Key layout: <c>(generation &lt;&lt; 32) | titleId</c> packed into a long. Generation 0 is reserved for metadata:
/// key 0 is the manifest (which generations exist, which is active, their versions), key <c>g</c> is the title list of
/// generation g. A push writes a whole new generation, then swaps <see cref="_active"/>; nothing is updated in place.
/// Models are meant to be served from memory only: size <see cref="ModelStoreOptions.MemoryBytes"/> so the log's
/// in-memory window holds every kept generation (<see cref="IsFullyInMemory"/> reports whether it does).
/// A push or rollback becomes visible only once its checkpoint is durable (ModelStore.Bundles.cs); files are verified
/// at open and damage falls back to the previous checkpoint or is moved aside (ModelStore.Open.cs, docs/reliability.md).
/// </remarks>
public sealed partial class ModelStore : IDisposable
{
    private static int _visitorTypeCount;

    private readonly ModelStoreOptions _options;
    private readonly string _root;
    private readonly long _pageBytes;
    private readonly long _memoryBytes;
    private readonly long _segmentBytes;
    private readonly long _indexBytes;
    private readonly int _maxModelBytes;
    private IDevice _logDevice = null!;
    private FasterKV<long, SpanByte> _store = null!;
    private KvCheckpoints _checkpoints = null!;

    // Push path state: only touched while _writeLock is held.
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private ClientSession<long, SpanByte, SpanByte, Empty, Empty, ModelWriteFunctions> _writer = null!;
    private readonly PinnedBuffer _scratch = new();
    private readonly List<GenerationState> _pendingDelete = [];
    private uint _nextGeneration = 1;
    private bool _changedSinceCheckpoint;
    private readonly PeriodicTimer? _checkpointTimer;
    private volatile string? _pendingWrite;

    // Read path state: the pools are made once when FASTER is opened (one per declared reader; again if damaged files
    // are moved aside and the store is recreated); the generations are replaced atomically by the push path.
    private IDisposable?[] _readPools = [];
    private GenerationState? _active;
    private GenerationState[] _history = [];
    private Dictionary<uint, byte[]> _metadata = [];
    private volatile bool _disposed;

    private ModelStore(ModelStoreOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DataDirectory);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxGenerations, 2);
        _options = options;

        _pageBytes = Sizes.FloorPow2(options.PageBytes, nameof(options.PageBytes));
        _memoryBytes = Sizes.FloorPow2(options.MemoryBytes, nameof(options.MemoryBytes));
        _segmentBytes = Sizes.FloorPow2(options.SegmentBytes, nameof(options.SegmentBytes));
        _indexBytes = Sizes.FloorPow2(options.IndexBytes, nameof(options.IndexBytes));
        if (_memoryBytes < 2 * _pageBytes || _segmentBytes < _pageBytes)
        {
            throw new ArgumentException("MemoryBytes must hold at least two pages and SegmentBytes at least one page.", nameof(options));
        }

        // A record (header, key, length prefix, value) must fit in one page; keep a margin for the headers.
        _maxModelBytes = (int)Math.Min(int.MaxValue - 64, (_pageBytes / 2) - 64);

        _root = Path.GetFullPath(options.DataDirectory);
        Health = new DeviceHealth(options.Name, options.Faults);
        OpenReport = OpenChecked(options.OnDamage);

        if (options.CheckpointInterval is { } interval)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
            _checkpointTimer = new PeriodicTimer(interval);
            _ = RunPeriodicCheckpointsAsync(_checkpointTimer);
        }
    }

    /// <summary>Opens the store in <see cref="ModelStoreOptions.DataDirectory"/>, recovering the latest checkpoint if any.</summary>
    public static ModelStore Open(ModelStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ModelStore(options);
    }

    /// <summary>The state of the store's files: whether writes are failing (disk full, I/O error) and why.</summary>
    public DeviceHealth Health { get; }

    /// <summary>What the store found when it opened its files (verified, recovered an earlier checkpoint, damaged and moved aside).</summary>
    public StoreOpenReport OpenReport { get; }

    /// <summary>A push or rollback that was not durable in time and waits for the disk (null when none): no other write runs meanwhile.</summary>
    public string? PendingWrite => _pendingWrite;

    /// <summary>
    /// Raised after a push, rollback or metadata write became durable and visible (on the thread that completed it:
    /// the caller's, or a background thread when the write had been pending on the disk). Subscribers re-read what
    /// they derive from the store (the server's default images and bundle history).
    /// </summary>
    public event Action? Published;

    /// <summary>Bytes a checkpoint writes at most besides new log pages (the hash index), for free-space checks.</summary>
    public long CheckpointIndexBytes => _indexBytes;

    /// <summary>Version of the active bundle (0 if none).</summary>
    public ulong Version => Volatile.Read(ref _active)?.Version ?? 0;

    /// <summary>Version of the bundle <see cref="Rollback"/> would return to (0 if none).</summary>
    public ulong PreviousVersion
    {
        get
        {
            var history = Volatile.Read(ref _history);
            return history.Length >= 2 ? history[^2].Version : 0;
        }
    }

    /// <summary>Number of titles in the active bundle.</summary>
    public int TitleCount => Volatile.Read(ref _active)?.TitleIds.Length ?? 0;

    /// <summary>Metadata of the kept generations, oldest first; the last one is active. Allocates: admin use.</summary>
    public IReadOnlyList<ModelGenerationInfo> Generations =>
        Array.ConvertAll(Volatile.Read(ref _history), static g => g.Info);

    /// <summary>
    /// True if every record from the oldest kept generation onward is in the in-memory part of the log, i.e. no
    /// model read can go to disk. False means <see cref="ModelStoreOptions.MemoryBytes"/> is too small.
    /// </summary>
    public bool IsFullyInMemory
    {
        get
        {
            var history = Volatile.Read(ref _history);
            return history.Length == 0 || _store.Log.HeadAddress <= history.Min(static g => g.StartAddress);
        }
    }

    /// <summary>The exception of the last failed periodic checkpoint, if any (for health checks and metrics).</summary>
    public Exception? LastCheckpointFailure { get; private set; }

    /// <summary>Log begin address: records below it were compacted away (diagnostics).</summary>
    public long LogBeginAddress => _store.Log.BeginAddress;

    /// <summary>Log tail address (diagnostics: the log grows by one bundle per push until compaction).</summary>
    public long LogTailAddress => _store.Log.TailAddress;

    /// <summary>
    /// Pins the active bundle for a sequence of consistent reads. Two interlocked operations; no allocation.
    /// </summary>
    public ModelSnapshot AcquireSnapshot()
    {
        var generation = PinActive();
        return generation is null ? default : new ModelSnapshot(this, generation);
    }

    /// <summary>
    /// Reads <paramref name="titleId"/> from the active bundle in place: the visitor sees the bytes inside FASTER's
    /// read callback. False if the bundle has no such title. No allocation once warmed up (see AllocationTests).
    /// </summary>
    public bool TryRead<TVisitor>(uint titleId, ref TVisitor visitor)
        where TVisitor : struct, IModelVisitor
    {
        var generation = PinActive();
        if (generation is null)
        {
            return false;
        }

        try
        {
            return ReadCore(generation.Generation, titleId, ref visitor);
        }
        finally
        {
            generation.Unpin();
        }
    }

    /// <summary>
    /// A FASTER session of the store's own for one reader (a connection): it pins the active generation and holds the
    /// epoch per batch instead of per read (<see cref="ModelReadSession{TVisitor}"/>). Dispose it when the reader is done.
    /// </summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="TVisitor"/> is not a declared reader.</exception>
    public ModelReadSession<TVisitor> OpenReadSession<TVisitor>()
        where TVisitor : struct, IModelVisitor => new(this, GetReadPool<TVisitor>());

    /// <summary>Takes a checkpoint of the store (waits for it to be durable).</summary>
    public void Checkpoint()
    {
        _writeLock.Wait();
        try
        {
            StartCheckpoint().GetAwaiter().GetResult();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Checkpoints if anything changed since the last checkpoint, waiting at most <paramref name="timeout"/> for the
    /// push lock and for the checkpoint; false if it did not complete in time (shutdown on a failing disk). Blocks the
    /// calling thread: for shutdown and tools; the server's endpoints await <see cref="TryCheckpointAsync"/>.
    /// </summary>
    public bool TryCheckpoint(TimeSpan timeout) => TryCheckpointAsync(timeout).GetAwaiter().GetResult();

    /// <summary>As <see cref="TryCheckpoint"/>, without holding a thread while it waits for the push lock or the checkpoint.</summary>
    public async Task<bool> TryCheckpointAsync(TimeSpan timeout)
    {
        if (!await _writeLock.WaitAsync(timeout).ConfigureAwait(false))
        {
            return false;
        }

        if (_disposed || !_changedSinceCheckpoint)
        {
            _writeLock.Release();
            return true;
        }

        var task = StartCheckpoint();

        // Completed (durable or failed) or still running after `timeout`: either way not thrown here.
        await task.WaitAsync(timeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (task.IsCompleted)
        {
            _writeLock.Release();
            return task.IsCompletedSuccessfully;
        }

        // Still waiting for the disk: the lock stays with the checkpoint until it ends (Dispose does not wait for it).
        _ = task.ContinueWith(static (_, state) => ((SemaphoreSlim)state!).Release(), _writeLock, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        return false;
    }

    /// <summary>
    /// Disposes the store. Callers must have stopped reading; waits at most <see cref="ModelStoreOptions.CloseTimeout"/>
    /// for a push or checkpoint still running (one waiting for a failing disk is abandoned: the store is then left to
    /// the process's exit). No checkpoint is taken.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _checkpointTimer?.Dispose();
        if (!_writeLock.Wait(_options.CloseTimeout))
        {
            Health.Abandon();
            if (!_writeLock.Wait(_options.CloseTimeout))
            {
                return;
            }
        }

        try
        {
            DestroyFaster();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>The lowest log address still in memory (a prefetch does not look below it).</summary>
    internal long HeadAddress => _store.Log.HeadAddress;

    internal static long ModelKey(uint generation, uint titleId) => (long)(((ulong)generation << 32) | titleId);

    internal bool ReadCore<TVisitor>(uint generation, uint titleId, ref TVisitor visitor)
        where TVisitor : struct, IModelVisitor
    {
        var pool = GetReadPool<TVisitor>();
        var session = pool.Rent();
        try
        {
            long key = ModelKey(generation, titleId);
            SpanByte input = default;
            var status = session.Read(ref key, ref input, ref visitor, default, 0);
            return status.IsPending ? CompletePendingRead(session, ref visitor) : status.Found;
        }
        finally
        {
            pool.Return(session);
        }
    }

    internal GenerationState? PinActiveGeneration() => PinActive();

    private GenerationState? PinActive()
    {
        while (true)
        {
            var generation = Volatile.Read(ref _active);
            if (generation is null || generation.TryPin())
            {
                return generation;
            }

            // It was retired between the read and the pin (a rollback): the new active one is already published.
        }
    }

    /// <summary>
    /// Slow path: the record was below the log's head (on disk). Only happens if the memory budget is too small.
    /// FASTER calls the visitor during CompletePending on its copy of the output; copy that back to the caller.
    /// </summary>
    private static bool CompletePendingRead<TVisitor>(
        ClientSession<long, SpanByte, SpanByte, TVisitor, Empty, ModelReadFunctions<TVisitor>> session, ref TVisitor visitor)
        where TVisitor : struct, IModelVisitor
    {
        session.CompletePendingWithOutputs(out var outputs, wait: true);
        return TakeCompleted(outputs, ref visitor);
    }

    /// <summary>
    /// The result of the one read a caller left pending, from the outputs its CompletePending returned (every session
    /// completes its pending read before it reads again, so there is at most one): FASTER called the visitor on its
    /// copy of the output, which is copied back to the caller. Disposes the outputs.
    /// </summary>
    internal static bool TakeCompleted<TVisitor>(CompletedOutputIterator<long, SpanByte, SpanByte, TVisitor, Empty> outputs, ref TVisitor visitor)
        where TVisitor : struct, IModelVisitor
    {
        try
        {
            bool found = false;
            while (outputs.Next())
            {
                found = outputs.Current.Status.Found;
                visitor = outputs.Current.Output;
            }

            return found;
        }
        finally
        {
            outputs.Dispose();
        }
    }

    /// <summary>The pool of a declared reader (<see cref="ModelStoreOptions.Readers"/>), indexed by a per-type id.</summary>
    private SessionPool<ClientSession<long, SpanByte, SpanByte, TVisitor, Empty, ModelReadFunctions<TVisitor>>> GetReadPool<TVisitor>()
        where TVisitor : struct, IModelVisitor
    {
        int id = VisitorTypeId<TVisitor>.Value;
        var pools = _readPools;
        if ((uint)id < (uint)pools.Length
            && pools[id] is SessionPool<ClientSession<long, SpanByte, SpanByte, TVisitor, Empty, ModelReadFunctions<TVisitor>>> pool)
        {
            return pool;
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        return ThrowUndeclaredReader<TVisitor>();
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static SessionPool<ClientSession<long, SpanByte, SpanByte, TVisitor, Empty, ModelReadFunctions<TVisitor>>> ThrowUndeclaredReader<TVisitor>()
        where TVisitor : struct, IModelVisitor =>
        throw new InvalidOperationException(
            $"{typeof(TVisitor).Name} is not a declared reader of this model store: every visitor type reads through a pool of FASTER "
            + $"sessions of its own, so declare it where the store is opened (ModelStoreOptions.Readers = [ModelReader.For<{typeof(TVisitor).Name}>()]).");

    /// <summary>One pool per declared reader type (and the store's own copy visitor), made once at open.</summary>
    private IDisposable?[] CreateReadPools(IReadOnlyList<ModelReader> readers)
    {
        var declared = new List<ModelReader>(readers) { ModelReader.For<CopyVisitor>() };
        var pools = new IDisposable?[declared.Max(static r => r.TypeId) + 1];
        foreach (var reader in declared)
        {
            pools[reader.TypeId] ??= reader.CreatePool(this);
        }

        return pools;
    }

    internal SessionPool<ClientSession<long, SpanByte, SpanByte, TVisitor, Empty, ModelReadFunctions<TVisitor>>> CreateReadPool<TVisitor>()
        where TVisitor : struct, IModelVisitor
    {
        var functions = new ModelReadFunctions<TVisitor>();
        return new SessionPool<ClientSession<long, SpanByte, SpanByte, TVisitor, Empty, ModelReadFunctions<TVisitor>>>(
            () => _store.For(functions).NewSession<ModelReadFunctions<TVisitor>>(),
            _options.SessionPoolSize);
    }

    /// <summary>A dense id per visitor type, used to index <see cref="_readPools"/> without a dictionary lookup.</summary>
    internal static class VisitorTypeId<TVisitor>
    {
        public static readonly int Value = Interlocked.Increment(ref _visitorTypeCount) - 1;
    }
}
