using System.Diagnostics;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace EdgeSelector.Server.Connections;

/// <summary>
/// The one read → process a batch → flush → close loop of every pipelined TCP front door (binary protocol, RESP):
/// each read hands every whole request that arrived to the protocol session, whose answers go into the output pipe
/// and leave in one flush, so a pipelined batch costs one read and one write system call. The connection budget sits
/// in front of it (<see cref="ConnectionLimit"/>); the idle, frame and write deadlines are checked by the
/// <see cref="ConnectionHeartbeat"/>, which wakes the loop (<see cref="PipeReader.CancelPendingRead"/>) to close.
/// </summary>
/// <remarks>
/// Idle means no whole request: the deadline moves only when a request completes, so a client trickling bytes never
/// resets it, and a request that has started must finish within the frame timeout. A client that stops reading its
/// answers is aborted once a flush has waited the idle timeout. Deferred answers (a REWARD answered once durable)
/// wake the loop the same way, so they never wait for the next request.
/// </remarks>
internal sealed class PipelinedConnection(ConnectionContext connection, ConnectionTimeouts timeouts, ConnectionHeartbeat heartbeat)
{
    private readonly PipeReader _input = connection.Transport.Input;
    private readonly BatchedPipeWriter _output = new(connection.Transport.Output);
    private IPipelinedSession? _session;
    private long _idleDeadline;
    private long _frameDeadline = long.MaxValue;
    private long _writeDeadline = long.MaxValue;
    private int _closeReason;
    private volatile bool _closed;

    /// <summary>
    /// The connection's output for its protocol session: answers are handed to the transport's pipe once per batch (at
    /// the flush), not per answer (<see cref="BatchedPipeWriter"/>). Every write of the connection goes through it.
    /// </summary>
    public PipeWriter Output => _output;

    /// <summary>Runs the loop until the peer leaves, a fatal error is answered, a deadline passes or the node stops.</summary>
    public async Task RunAsync(IPipelinedSession session)
    {
        _session = session;
        var now = Stopwatch.GetTimestamp();
        Volatile.Write(ref _idleDeadline, now + timeouts.IdleTicks);
        var key = heartbeat.Add(this);
        long arrival = now;
        var paused = false;
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync();
                now = Stopwatch.GetTimestamp(); // the batch's one clock reading
                var reason = (CloseReason)Volatile.Read(ref _closeReason);
                if (reason != CloseReason.None)
                {
                    _input.AdvanceTo(result.Buffer.Start);
                    await SayGoodbyeAsync(session, reason);
                    break;
                }

                var buffer = result.Buffer;
                var end = buffer.End;
                // Bytes left unexamined by a paused batch arrived with the read before; everything else by now.
                arrival = paused ? arrival : now;
                var outcome = session.Process(ref buffer, new Batch(now, arrival), out var completed);
                paused = outcome == BatchOutcome.Paused;
                _input.AdvanceTo(buffer.Start, paused ? buffer.Start : end);
                MoveDeadlines(now, arrival, completed, partial: !paused && !buffer.IsEmpty);
                var flush = await FlushAsync(now);
                if (outcome == BatchOutcome.Close)
                {
                    await DrainAsync();
                    break;
                }

                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }

                if (result.IsCompleted && !paused)
                {
                    // The peer sent its last request: its deferred answers are still owed.
                    await session.FinishAsync();
                    await FlushAsync(Stopwatch.GetTimestamp());
                    break;
                }
            }
        }
        catch (Exception e) when (e is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException)
        {
            // The peer went away, or the heartbeat aborted a connection that stopped reading: nothing to answer.
        }
        finally
        {
            _closed = true;
            heartbeat.Remove(key);
            session.OnClosed();
        }
    }

    /// <summary>Asks the loop to say goodbye and close (any thread).</summary>
    public void Close(CloseReason reason)
    {
        if (Interlocked.CompareExchange(ref _closeReason, (int)reason, (int)CloseReason.None) == (int)CloseReason.None)
        {
            Wake();
        }
    }

    /// <summary>Makes a pending read return now (any thread): deferred answers are ready, or a deadline passed.</summary>
    public void Wake()
    {
        if (!_closed)
        {
            _input.CancelPendingRead();
        }
    }

    /// <summary>Called by the heartbeat about once a second.</summary>
    public void OnHeartbeat(long now)
    {
        if (now > Volatile.Read(ref _writeDeadline))
        {
            // The client has not read its answers for the idle timeout: no goodbye can reach it.
            connection.Abort(new ConnectionAbortedException("the client did not read its answers within the idle timeout"));
        }
        else if (now > Volatile.Read(ref _idleDeadline))
        {
            Close(CloseReason.IdleTimeout);
        }
        else if (now > Volatile.Read(ref _frameDeadline))
        {
            Close(CloseReason.FrameTimeout);
        }
        else if (_session?.WantsWake(now) == true)
        {
            Wake();
        }
    }

    private void MoveDeadlines(long now, long arrival, int completed, bool partial)
    {
        if (completed > 0)
        {
            Volatile.Write(ref _idleDeadline, now + timeouts.IdleTicks);
        }

        if (!partial)
        {
            Volatile.Write(ref _frameDeadline, long.MaxValue);
        }
        else if (completed > 0 || Volatile.Read(ref _frameDeadline) == long.MaxValue)
        {
            // A request started in this read's bytes; one that started earlier keeps its deadline.
            Volatile.Write(ref _frameDeadline, arrival + timeouts.FrameTicks);
        }
    }

    private async ValueTask<FlushResult> FlushAsync(long now)
    {
        var flush = _output.FlushAsync();
        if (flush.IsCompleted)
        {
            return flush.Result;
        }

        Volatile.Write(ref _writeDeadline, now + timeouts.WriteTicks);
        try
        {
            return await flush;
        }
        finally
        {
            Volatile.Write(ref _writeDeadline, long.MaxValue);
        }
    }

    private async Task SayGoodbyeAsync(IPipelinedSession session, CloseReason reason)
    {
        if (reason == CloseReason.ShuttingDown)
        {
            await session.FinishAsync(); // answers owed for rewards that are being made durable
        }

        session.WriteGoodbye(reason);
        await FlushAsync(Stopwatch.GetTimestamp());
    }

    // After a fatal error: half-close (FIN after the error), then read and discard what the peer still sends for a
    // moment, so closing with unread data does not turn into a reset that destroys the error in flight.
    private async Task DrainAsync()
    {
        await _output.CompleteAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        long drained = 0;
        try
        {
            while (drained < (1 << 20))
            {
                var result = await _input.ReadAsync(limit.Token);
                drained += result.Buffer.Length;
                _input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The peer kept the connection open: close it anyway.
        }
    }
}
