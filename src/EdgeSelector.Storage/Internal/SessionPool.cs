namespace EdgeSelector.Storage.Internal;

/// <summary>
/// A bounded, lock-free pool of FASTER client sessions. A FASTER session is single-threaded, while Kestrel runs
/// connection handlers on any thread-pool thread, so every operation rents a session, uses it on the calling thread
/// and returns it. Rent and Return are a CompareExchange on one slot each: no lock and no allocation once the pool
/// has warmed up (pinned by AllocationTests in EdgeSelector.Storage.Tests).
/// </summary>
/// <remarks>
/// Per-thread sessions ([ThreadStatic]) were rejected: the thread pool creates and retires threads, a session per
/// thread would leak with them, and a thread-static cannot be scoped to one store instance.
/// </remarks>
internal sealed class SessionPool<TSession> : IDisposable
    where TSession : class, IDisposable
{
    private readonly Func<TSession> _factory;
    private readonly TSession?[] _slots;
    private volatile bool _disposed;

    public SessionPool(Func<TSession> factory, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _factory = factory;
        _slots = new TSession?[capacity];
    }

    /// <summary>Takes an idle session, or creates one if all are in use (only while the pool warms up).</summary>
    public TSession Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var slots = _slots;
        // Start at a thread-dependent slot so concurrent renters do not all fight over slot 0.
        int start = (int)((uint)Environment.CurrentManagedThreadId % (uint)slots.Length);
        for (int n = 0; n < slots.Length; n++)
        {
            int i = start + n;
            if (i >= slots.Length)
            {
                i -= slots.Length;
            }

            var session = Volatile.Read(ref slots[i]);
            if (session is not null && Interlocked.CompareExchange(ref slots[i], null, session) == session)
            {
                return session;
            }
        }

        return _factory();
    }

    /// <summary>Gives a session back; if every slot is full (a burst created extra sessions) it is disposed.</summary>
    public void Return(TSession session)
    {
        if (!_disposed)
        {
            var slots = _slots;
            int start = (int)((uint)Environment.CurrentManagedThreadId % (uint)slots.Length);
            for (int n = 0; n < slots.Length; n++)
            {
                int i = start + n;
                if (i >= slots.Length)
                {
                    i -= slots.Length;
                }

                if (Volatile.Read(ref slots[i]) is null && Interlocked.CompareExchange(ref slots[i], session, null) is null)
                {
                    return;
                }
            }
        }

        session.Dispose();
    }

    /// <summary>Disposes the idle sessions. Sessions still rented are disposed when they are returned.</summary>
    public void Dispose()
    {
        _disposed = true;
        for (int i = 0; i < _slots.Length; i++)
        {
            Interlocked.Exchange(ref _slots[i], null)?.Dispose();
        }
    }
}
