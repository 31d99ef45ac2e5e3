using System.Buffers;

namespace EdgeSelector.Server.Connections;

/// <summary>
/// A protocol on the pipelined-connection skeleton (<see cref="PipelinedConnection"/>): it only parses the requests
/// of a batch and dispatches them, answering into the connection's output; reading, flushing, limits, timeouts and
/// closing belong to the skeleton. One instance per connection, called from the connection's loop only.
/// </summary>
internal interface IPipelinedSession
{
    /// <summary>
    /// Answers every whole request at the start of <paramref name="buffer"/> (at most the in-flight limit) and moves
    /// <paramref name="buffer"/> past what it consumed; an incomplete request is left in place, unconsumed.
    /// Also writes answers that were deferred and are now ready (durable REWARD answers).
    /// </summary>
    /// <param name="buffer">The unconsumed input.</param>
    /// <param name="batch">The batch's clock: one reading for the batch and when its bytes arrived.</param>
    /// <param name="completed">Whole requests consumed (the idle rule counts these, not bytes).</param>
    BatchOutcome Process(ref ReadOnlySequence<byte> buffer, in Batch batch, out int completed);

    /// <summary>True when the session has deferred answers that need a look at <paramref name="now"/> (heartbeat thread).</summary>
    bool WantsWake(long now);

    /// <summary>The peer sent its last byte or the node is stopping: wait (bounded) for the deferred answers and write them.</summary>
    ValueTask FinishAsync();

    /// <summary>Writes the protocol's last words before the skeleton closes the connection for <paramref name="reason"/>.</summary>
    void WriteGoodbye(CloseReason reason);

    /// <summary>The connection is gone: release what the session holds (answers nobody will read).</summary>
    void OnClosed();
}

/// <summary>The clock of one batch: read once when the read returned (Stopwatch ticks).</summary>
/// <param name="Now">When the batch began.</param>
/// <param name="Arrival">When the server read the batch's oldest bytes: its requests' age at arrival counts from here.</param>
internal readonly record struct Batch(long Now, long Arrival);

/// <summary>How a batch ended.</summary>
internal enum BatchOutcome : byte
{
    /// <summary>Every whole request was answered.</summary>
    Done = 0,

    /// <summary>The in-flight limit was reached: flush, then continue with the rest at once.</summary>
    Paused,

    /// <summary>Unreadable input (or QUIT) was answered: flush, then close.</summary>
    Close,
}

/// <summary>Why the skeleton closes a connection on its own.</summary>
internal enum CloseReason
{
    /// <summary>It does not.</summary>
    None = 0,

    /// <summary>No whole request within <c>IdleTimeoutSeconds</c>.</summary>
    IdleTimeout,

    /// <summary>A request's first byte came, the rest not within <c>FrameTimeoutSeconds</c>.</summary>
    FrameTimeout,

    /// <summary>The node is stopping.</summary>
    ShuttingDown,
}
