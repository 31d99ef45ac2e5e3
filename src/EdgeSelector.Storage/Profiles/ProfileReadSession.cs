using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using EdgeSelector.Core.Features;
using EdgeSelector.Storage.Internal;
using FASTER.core;

namespace EdgeSelector.Storage.Profiles;

/// <summary>
/// One reader's own FASTER session on the profile store, for a sequence of batches on one connection (Garnet's
/// per-connection storage session): <see cref="Begin"/> enters the store's epoch once, the batch's reads run under
/// it, <see cref="End"/> leaves it. Not thread-safe: one connection at a time.
/// </summary>
/// <remarks>
/// Between <see cref="Begin"/> and <see cref="End"/> the calling thread holds the store's epoch: both on the same
/// thread, no <c>await</c> or flush between them, and no other session of this store used by that thread meanwhile.
/// A profile evicted to disk makes its read pending; <see cref="TryGet"/> completes it before returning and
/// <see cref="ReadMany"/> issues every read first and completes the pending ones together, so one disk read does not
/// hold up the reads behind it. Allocation-free for reads served from memory (ServingAllocationTests).
/// </remarks>
public sealed class ProfileReadSession : IDisposable
{
    private readonly SessionPool<ClientSession<long, MemberProfile, MemberProfile, MemberProfile, Empty, SimpleFunctions<long, MemberProfile, Empty>>> _pool;
    private readonly ClientSession<long, MemberProfile, MemberProfile, MemberProfile, Empty, SimpleFunctions<long, MemberProfile, Empty>> _session;
    private readonly UnsafeContext<long, MemberProfile, MemberProfile, MemberProfile, Empty, SimpleFunctions<long, MemberProfile, Empty>> _context;
    private bool _inBatch;
    private bool _disposed;

    internal ProfileReadSession(SessionPool<ClientSession<long, MemberProfile, MemberProfile, MemberProfile, Empty, SimpleFunctions<long, MemberProfile, Empty>>> pool)
    {
        _pool = pool;
        _session = pool.Rent();
        _context = _session.UnsafeContext;
    }

    /// <summary>True between <see cref="Begin"/> and <see cref="End"/>.</summary>
    public bool InBatch => _inBatch;

    /// <summary>Enters the store's epoch on this thread, until <see cref="End"/>.</summary>
    /// <exception cref="InvalidOperationException">A batch is already open.</exception>
    public void Begin()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_inBatch)
        {
            ThrowInBatch();
        }

        _context.BeginUnsafe();
        _inBatch = true;
    }

    /// <summary>Reads a member's profile; false if the member is unknown. Waits for one disk read if it was evicted.</summary>
    public bool TryGet(ulong memberId, out MemberProfile profile)
    {
        profile = default;
        if (!_inBatch)
        {
            ThrowNotInBatch();
        }

        long key = (long)memberId;
        MemberProfile input = default;
        var status = _context.Read(ref key, ref input, ref profile, default, 0);
        if (!status.IsPending)
        {
            return status.Found;
        }

        var found = false;
        CompletePending(new ReadOnlySpan<ulong>(in memberId), new Span<MemberProfile>(ref profile), new Span<bool>(ref found));
        return found;
    }

    /// <summary>
    /// Reads the profiles of <paramref name="memberIds"/> into <paramref name="profiles"/>, with
    /// <paramref name="found"/>[i] false for an unknown member: every read is issued first, then the ones that went to
    /// disk are completed together. Returns how many were found.
    /// </summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public int ReadMany(ReadOnlySpan<ulong> memberIds, Span<MemberProfile> profiles, Span<bool> found)
    {
        if (profiles.Length != memberIds.Length || found.Length != memberIds.Length)
        {
            throw new ArgumentException("One profile and one found flag per member id are required.", nameof(profiles));
        }

        if (!_inBatch)
        {
            ThrowNotInBatch();
        }

        var pending = false;
        for (var i = 0; i < memberIds.Length; i++)
        {
            long key = (long)memberIds[i];
            MemberProfile input = default;
            profiles[i] = default;
            var status = _context.Read(ref key, ref input, ref profiles[i], default, 0);
            found[i] = status.Found;
            pending |= status.IsPending;
        }

        if (pending)
        {
            CompletePending(memberIds, profiles, found);
        }

        var count = 0;
        foreach (var f in found)
        {
            count += f ? 1 : 0;
        }

        return count;
    }

    /// <summary>Leaves the epoch (every pending read was completed by the call that issued it).</summary>
    public void End()
    {
        if (!_inBatch)
        {
            return;
        }

        _inBatch = false;
        _context.EndUnsafe();
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

    // The reads that went to disk, completed together; each completed read is matched back to every request for the
    // same member (a batch may ask for one member twice).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CompletePending(ReadOnlySpan<ulong> memberIds, Span<MemberProfile> profiles, Span<bool> found)
    {
        _context.CompletePendingWithOutputs(out var outputs, wait: true);

        try
        {
            while (outputs.Next())
            {
                ref var current = ref outputs.Current;
                var member = (ulong)current.Key;
                for (var i = 0; i < memberIds.Length; i++)
                {
                    if (memberIds[i] == member)
                    {
                        found[i] = current.Status.Found;
                        profiles[i] = current.Output;

                    }
                }
            }
        }
        finally
        {
            outputs.Dispose();
        }
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowInBatch() => throw new InvalidOperationException("A profile read session's batch is already open: End it first.");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNotInBatch() => throw new InvalidOperationException("Read profiles between Begin and End.");
}
