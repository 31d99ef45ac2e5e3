using System.Collections.Concurrent;
using System.Diagnostics;

namespace EdgeSelector.Server.Connections;

/// <summary>
/// One timer for every open TCP connection (Kestrel's <c>Heartbeat</c> shape): once a second it checks each
/// connection's deadlines (idle, frame, write) and its deferred answers, so the request path only writes a deadline
/// when a request completes and never arms a timer per read. Also closes every connection when the node stops.
/// </summary>
internal sealed class ConnectionHeartbeat : IDisposable
{
    /// <summary>How often deadlines are checked: a timeout fires between its deadline and one interval later.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<long, PipelinedConnection> _connections = new();
    private readonly Timer _timer;
    private long _nextId;
    private volatile bool _stopping;

    public ConnectionHeartbeat() =>
        _timer = new Timer(static state => ((ConnectionHeartbeat)state!).Tick(), this, Interval, Interval);

    /// <summary>True once <see cref="StopAll"/> ran: new connections are closed at once.</summary>
    public bool IsStopping => _stopping;

    /// <summary>Connections being watched.</summary>
    public int Count => _connections.Count;

    /// <summary>Watches a connection until <see cref="Remove"/>; returns its key.</summary>
    public long Add(PipelinedConnection connection)
    {
        var id = Interlocked.Increment(ref _nextId);
        _connections[id] = connection;
        if (_stopping)
        {
            connection.Close(CloseReason.ShuttingDown);
        }

        return id;
    }

    /// <summary>Stops watching a connection.</summary>
    public void Remove(long id) => _connections.TryRemove(id, out _);

    /// <summary>The node is stopping: every connection writes its goodbye and closes (new ones too).</summary>
    public void StopAll()
    {
        _stopping = true;
        foreach (var (_, connection) in _connections)
        {
            connection.Close(CloseReason.ShuttingDown);
        }
    }

    public void Dispose() => _timer.Dispose();

    private void Tick()
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var (_, connection) in _connections)
        {
            connection.OnHeartbeat(now);
        }
    }
}
