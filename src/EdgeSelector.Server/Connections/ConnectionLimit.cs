using Microsoft.AspNetCore.Connections;

namespace EdgeSelector.Server.Connections;

/// <summary>
/// The connection budget of one listener, as connection middleware in front of its protocol handler (the shape of
/// Kestrel's <c>ConnectionLimitMiddleware</c>): a connection over the budget gets the protocol's refusal
/// (<paramref name="refusal"/>, written once at start-up) and is closed before any handler code runs. Every TCP port
/// has a budget of its own, so sockets held open on one port never lock clients out of another
/// (docs/protocol.md#limits).
/// </summary>
/// <param name="listener">The listener's name in /metrics (<c>binary</c>, <c>resp</c>).</param>
/// <param name="max">Most concurrent connections.</param>
/// <param name="refusal">The bytes a refused client reads before the close.</param>
internal sealed class ConnectionLimit(string listener, int max, ReadOnlyMemory<byte> refusal)
{
    private long _open;
    private long _accepted;
    private long _rejected;

    /// <summary>The listener's name.</summary>
    public string Listener { get; } = listener;

    /// <summary>The budget.</summary>
    public int Max { get; } = max;

    /// <summary>Connections open now.</summary>
    public long Open => Volatile.Read(ref _open);

    /// <summary>Connections admitted since start.</summary>
    public long Accepted => Volatile.Read(ref _accepted);

    /// <summary>Connections refused since start.</summary>
    public long Rejected => Volatile.Read(ref _rejected);

    /// <summary>The middleware: <c>listenOptions.Use(limit.Wrap)</c>.</summary>
    public ConnectionDelegate Wrap(ConnectionDelegate next) => connection => OnConnectionAsync(connection, next);

    private async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (!TryLockOne())
        {
            Interlocked.Increment(ref _rejected);
            try
            {
                await connection.Transport.Output.WriteAsync(refusal);
            }
            catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException)
            {
                // The refused peer is already gone.
            }

            return;
        }

        Interlocked.Increment(ref _accepted);
        try
        {
            await next(connection);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    private bool TryLockOne()
    {
        var open = Volatile.Read(ref _open);
        while (open < Max)
        {
            var seen = Interlocked.CompareExchange(ref _open, open + 1, open);
            if (seen == open)
            {
                return true;
            }

            open = seen;
        }

        return false;
    }
}
