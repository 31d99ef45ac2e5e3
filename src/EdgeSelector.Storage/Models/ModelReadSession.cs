using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using EdgeSelector.Storage.Internal;
using FASTER.core;

namespace EdgeSelector.Storage.Models;

/// <summary>
/// One reader's own FASTER session on the model store, for a sequence of batches on one connection (Garnet's
/// per-connection storage session): <see cref="Begin"/> pins the active bundle generation and enters the store's
/// epoch once, every <see cref="TryRead"/> of the batch reads that generation under that one epoch entry, and
/// <see cref="End"/> leaves the epoch and releases the pin, so a push or a rollback retires the old generation as
/// soon as the batches that started before it end. Not thread-safe: one connection at a time.
/// </summary>
/// <remarks>
/// Between <see cref="Begin"/> and <see cref="End"/> the calling thread holds the store's epoch: the two must run on
/// the same thread with no <c>await</c> (and no flush) between them, and the same thread must not read the store
/// through another session meanwhile (FASTER refuses to enter an epoch twice). A read that goes to disk (a model
/// store too small for its generations) is completed before <see cref="TryRead"/> returns, under the held epoch.
/// Allocation-free once rented (ServingAllocationTests).
/// </remarks>
/// <typeparam name="TVisitor">The visitor type; it must be a declared reader (<see cref="ModelStoreOptions.Readers"/>).</typeparam>
public sealed class ModelReadSession<TVisitor> : IDisposable
    where TVisitor : struct, IModelVisitor
{
    // A prefetch's input (ModelReadFunctions: a non-empty input asks for a prefetch, not a visit); pinned, because a
    // read that goes pending copies its input.
    private static readonly byte[] PrefetchMarker = GC.AllocateArray<byte>(1, pinned: true);

    private readonly ModelStore _store;
    private readonly SessionPool<ClientSession<long, SpanByte, SpanByte, TVisitor, Empty, ModelReadFunctions<TVisitor>>> _pool;
    private readonly ClientSession<long, SpanByte, SpanByte, TVisitor, Empty, ModelReadFunctions<TVisitor>> _session;
    private readonly UnsafeContext<long, SpanByte, SpanByte, TVisitor, Empty, ModelReadFunctions<TVisitor>> _context;
    private GenerationState? _pinned;
    private bool _inBatch;
    private bool _disposed;

    internal ModelReadSession(
        ModelStore store,
        SessionPool<ClientSession<long, SpanByte, SpanByte, TVisitor, Empty, ModelReadFunctions<TVisitor>>> pool)
    {
        _store = store;
        _pool = pool;
        _session = pool.Rent();
        _context = _session.UnsafeContext;
    }

    /// <summary>True between <see cref="Begin"/> and <see cref="End"/>.</summary>
    public bool InBatch => _inBatch;

    /// <summary>The version of the generation pinned by <see cref="Begin"/> (0 outside a batch or without a bundle).</summary>
    public ulong Version => _pinned?.Version ?? 0;

    /// <summary>Pins the active generation and enters the store's epoch on this thread, until <see cref="End"/>.</summary>
    /// <exception cref="InvalidOperationException">A batch is already open.</exception>
    public void Begin()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_inBatch)
        {
            ThrowInBatch();
        }

        _pinned = _store.PinActiveGeneration();
        try
        {
            _context.BeginUnsafe();
        }
        catch
        {
            _pinned?.Unpin();
            _pinned = null;
            throw;
        }

        _inBatch = true;
    }

    /// <summary>
    /// Reads <paramref name="titleId"/> from the pinned generation in place (the visitor sees the bytes inside FASTER's
    /// read callback). False if the generation lacks the title or no bundle is stored. Only between Begin and End.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryRead(uint titleId, ref TVisitor visitor)
    {
        var generation = _pinned;
        if (generation is null || !_inBatch)
        {
            return false;
        }

        long key = ModelStore.ModelKey(generation.Generation, titleId);
        SpanByte input = default;
        var status = _context.Read(ref key, ref input, ref visitor, default, 0);
        return status.IsPending ? CompletePending(ref visitor) : status.Found;
    }

    /// <summary>
    /// A hint: starts loading <paramref name="titleId"/>'s record of the pinned generation into the CPU caches (its hash
    /// bucket and header on the way, its bytes by prefetch instructions) so the <see cref="TryRead"/> that follows finds
    /// them there. A lookup through FASTER like any read (FASTER gives no record address before a read), so it can never
    /// touch a wrong or stale model: nothing is read from what it loads. Nothing is done unless the pinned generation is
    /// wholly in memory (a record on disk is left there). Only between Begin and End; never throws.
    /// </summary>
    public void Prefetch(uint titleId)
    {
        // Only while the whole pinned generation is in memory (its records are at or above its start address): FASTER
        // 2.6 lets no caller stop a lookup at the head, and a hint must not read a model from disk twice.
        var generation = _pinned;
        if (generation is null || !_inBatch || _store.HeadAddress > generation.StartAddress)
        {
            return;
        }

        long key = ModelStore.ModelKey(generation.Generation, titleId);
        var input = SpanByte.FromFixedSpan(PrefetchMarker);
        var unused = default(TVisitor);
        try
        {
            var status = _context.Read(ref key, ref input, ref unused, default, 0);
            if (status.IsPending)
            {
                // The head moved past the record between reading it and the lookup: complete it, so no read of ours is
                // left pending for the next TryRead's completion to pick up.
                CompletePending(ref unused);
            }
        }
        catch (Exception)
        {
            // A hint: the read that follows reports whatever is wrong.
        }
    }

    /// <summary>Leaves the epoch (any pending read was completed by its TryRead) and releases the pinned generation.</summary>
    public void End()
    {
        if (!_inBatch)
        {
            return;
        }

        _inBatch = false;
        try
        {
            _context.EndUnsafe();
        }
        finally
        {
            _pinned?.Unpin();
            _pinned = null;
        }
    }

    /// <summary>Ends an open batch and gives the FASTER session back to the store's pool.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        End();
        _disposed = true;
        _pool.Return(_session);
    }

    // Slow path: the record was below the log's head (on disk). FASTER calls the visitor during CompletePending on its
    // copy of the output; ModelStore.TakeCompleted copies that back to the caller.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool CompletePending(ref TVisitor visitor)
    {
        _context.CompletePendingWithOutputs(out var outputs, wait: true);
        return ModelStore.TakeCompleted(outputs, ref visitor);
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowInBatch() => throw new InvalidOperationException("A model read session's batch is already open: End it first.");
}
