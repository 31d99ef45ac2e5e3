using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
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
/// </remarks>
public sealed partial class ModelStore : IDisposable
{
    private static int _visitorTypeCount;

    private readonly ModelStoreOptions _options;
    private readonly IDevice _logDevice;
    private readonly FasterKV<long, SpanByte> _store;
    private readonly int _maxModelBytes;

    // Push path state: only touched while _writeLock is held.
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ClientSession<long, SpanByte, SpanByte, Empty, Empty, ModelWriteFunctions> _writer;
    private readonly PinnedBuffer _scratch = new();
    private readonly List<GenerationState> _pendingDelete = [];
    private uint _nextGeneration = 1;
    private bool _changedSinceCheckpoint;
    private readonly Timer? _checkpointTimer;

    // Read path state: the pools are made once at open (one per declared reader); the generations are replaced
    // atomically by the push path.
    private readonly IDisposable?[] _readPools;
    private GenerationState? _active;
    private GenerationState[] _history = [];
    private volatile bool _disposed;

    private ModelStore(ModelStoreOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DataDirectory);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxGenerations, 2);
        _options = options;

        long pageBytes = Sizes.FloorPow2(options.PageBytes, nameof(options.PageBytes));
        long memoryBytes = Sizes.FloorPow2(options.MemoryBytes, nameof(options.MemoryBytes));
        long segmentBytes = Sizes.FloorPow2(options.SegmentBytes, nameof(options.SegmentBytes));
        if (memoryBytes < 2 * pageBytes || segmentBytes < pageBytes)
        {
            throw new ArgumentException("MemoryBytes must hold at least two pages and SegmentBytes at least one page.", nameof(options));
        }

        // A record (header, key, length prefix, value) must fit in one page; keep a margin for the headers.
        _maxModelBytes = (int)Math.Min(int.MaxValue - 64, (pageBytes / 2) - 64);

        string root = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(Path.Combine(root, "log"));
        _logDevice = Devices.CreateLogDevice(Path.Combine(root, "log", "models.log"), preallocateFile: false, deleteOnClose: false, recoverDevice: true);
        try
        {
            using var settings = new FasterKVSettings<long, SpanByte>
            {
                IndexSize = Sizes.FloorPow2(options.IndexBytes, nameof(options.IndexBytes)),
                LogDevice = _logDevice,
                MemorySize = memoryBytes,
                PageSize = pageBytes,
                SegmentSize = segmentBytes,
                CheckpointDir = Path.Combine(root, "checkpoints"),
                RemoveOutdatedCheckpoints = true,
                TryRecoverLatest = true,
                ValueLength = new SpanByteVarLenStruct(),
            };
            _store = new FasterKV<long, SpanByte>(settings);
            _writer = _store.For(new ModelWriteFunctions()).NewSession<ModelWriteFunctions>();
            _readPools = CreateReadPools(options.Readers);
            RecoverManifest();
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
            _checkpointTimer = new Timer(static state => ((ModelStore)state!).PeriodicCheckpoint(), this, interval, interval);
        }
    }

    /// <summary>Opens the store in <see cref="ModelStoreOptions.DataDirectory"/>, recovering the latest checkpoint if any.</summary>
    public static ModelStore Open(ModelStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ModelStore(options);
    }

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

    /// <summary>Takes a checkpoint of the store (waits for it to be durable).</summary>
    public void Checkpoint()
    {
        _writeLock.Wait();
        try
        {
            CheckpointCore();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Disposes the store. Callers must have stopped reading; waits for an open bundle writer to finish. No checkpoint
    /// is taken.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _checkpointTimer?.Dispose();
        _writeLock.Wait();
        try
        {
            foreach (var pool in _readPools)
            {
                pool?.Dispose();
            }

            _writer.Dispose();
            _store.Dispose();
            _logDevice.Dispose();
        }
        finally
        {
            _writeLock.Release();
        }
    }

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

    private void CheckpointCore()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var (success, _) = _store.TakeFullCheckpointAsync(CheckpointType.FoldOver).AsTask().GetAwaiter().GetResult();
        if (!success)
        {
            throw new InvalidOperationException("FASTER refused to start a model-store checkpoint.");
        }

        _changedSinceCheckpoint = false;
    }

    /// <summary>Called after a commit or rollback (under the push lock): checkpoint now or mark for the timer.</summary>
    private void CheckpointAfterChange()
    {
        _changedSinceCheckpoint = true;
        if (_options.CheckpointOnChange)
        {
            CheckpointCore();
        }
    }

    private void PeriodicCheckpoint()
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
                CheckpointCore();
            }
        }
#pragma warning disable CA1031 // A timer callback must not throw (it would end the process); the failure is surfaced instead.
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

    /// <summary>A dense id per visitor type, used to index <see cref="_readPools"/> without a dictionary lookup.</summary>
    internal static class VisitorTypeId<TVisitor>
    {
        public static readonly int Value = Interlocked.Increment(ref _visitorTypeCount) - 1;
    }
}
