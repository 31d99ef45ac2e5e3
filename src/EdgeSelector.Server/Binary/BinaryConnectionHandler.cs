using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Serving;
using Microsoft.AspNetCore.Connections;

namespace EdgeSelector.Server.Binary;

/// <summary>
/// The binary protocol on Kestrel's connection middleware (docs/protocol.md). Each read hands over every complete
/// frame that arrived; they are answered in order into the connection's output pipe and flushed together, so a
/// pipelined batch costs one read and one write syscall. Limits: a fatal framing error, the connection limit and
/// the idle timeout send an ERROR frame and close; a bad request gets an ERROR frame and the connection stays;
/// more than MaxInFlightPerConnection requests in one batch are answered after the client has read the first
/// ones (back-pressure, never an error for a well-formed SELECT).
/// </summary>
internal sealed class BinaryConnectionHandler(ServerState state, IHostApplicationLifetime lifetime) : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var output = connection.Transport.Output;
        var input = connection.Transport.Input;
        if (!state.Metrics.TryOpenConnection(state.Options.MaxConnections))
        {
            FrameWriter.WriteError(output, 0, ErrorCode.TooManyConnections);
            await output.FlushAsync();
            return;
        }

        var session = new ConnectionSession(state, output);
        var idle = TimeSpan.FromSeconds(state.Options.IdleTimeoutSeconds);
        using var timeout = new CancellationTokenSource();
        var stopping = lifetime.ApplicationStopping;
        using var onStop = stopping.Register(static t => ((CancellationTokenSource)t!).Cancel(), timeout);
        try
        {
            while (true)
            {
                timeout.CancelAfter(idle);
                ReadResult result;
                try
                {
                    result = await input.ReadAsync(timeout.Token);
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                {
                    // Idle too long, or the node is stopping: say which, then close (docs/protocol.md#limits).
                    FrameWriter.WriteError(output, 0, stopping.IsCancellationRequested ? ErrorCode.ShuttingDown : ErrorCode.IdleTimeout);
                    await output.FlushAsync();
                    break;
                }

                if (!timeout.TryReset())
                {
                    break; // cancelled between the read completing and now: the node is stopping
                }
                var buffer = result.Buffer;
                var outcome = session.Process(ref buffer);
                // Stopped early at the in-flight limit: the rest of the buffer is unexamined, so the next read
                // returns at once with it.
                input.AdvanceTo(buffer.Start, outcome == BatchOutcome.Paused ? buffer.Start : buffer.End);
                var flush = await output.FlushAsync();
                if (outcome == BatchOutcome.Close || flush.IsCompleted || (result.IsCompleted && outcome != BatchOutcome.Paused))
                {
                    break;
                }
            }
        }
        catch (ConnectionResetException)
        {
            // The peer went away: nothing to answer.
        }
        catch (IOException)
        {
        }
        finally
        {
            state.Metrics.CloseConnection();
        }
    }
}

/// <summary>How a batch of frames ended.</summary>
internal enum BatchOutcome : byte
{
    /// <summary>Every complete frame was answered.</summary>
    Done = 0,
    /// <summary>The in-flight limit was reached: flush, then continue with the rest.</summary>
    Paused,
    /// <summary>A fatal framing error was answered: close.</summary>
    Close,
}

/// <summary>Per-connection scratch (titles and results of a page), reused for every request of the connection.</summary>
internal sealed class ConnectionSession(ServerState state, PipeWriter output)
{
    private readonly TitleCandidate[] _titles = new TitleCandidate[state.Options.MaxTitlesPerPage];
    private readonly SelectResult[] _results = new SelectResult[state.Options.MaxTitlesPerPage];
    private readonly long _maxQueueTicks = (long)(state.Options.MaxQueueDelayMs * Stopwatch.Frequency / 1000.0);

    public BatchOutcome Process(ref ReadOnlySequence<byte> buffer)
    {
        var batchStart = Stopwatch.GetTimestamp();
        var answered = 0;
        while (true)
        {
            if (answered >= state.Options.MaxInFlightPerConnection)
            {
                return BatchOutcome.Paused;
            }

            if (!FrameReader.TryReadFrame(ref buffer, state.Protocol, out var frame, out var error))
            {
                if (error == ErrorCode.None)
                {
                    return BatchOutcome.Done;
                }

                // docs/protocol.md#limits: the stream cannot be resynchronised: ERROR, then close.
                state.Metrics.ProtocolError();
                FrameWriter.WriteError(output, frame.RequestId, error);
                return BatchOutcome.Close;
            }

            var handler = new RequestHandler(state, output, _results, batchStart, _maxQueueTicks);
            state.Metrics.InFlight(1);
            try
            {
                RequestDispatcher.Dispatch(frame, state.Protocol, _titles, ref handler);
            }
            finally
            {
                state.Metrics.InFlight(-1);
            }

            answered++;
        }
    }
}

/// <summary>Answers one decoded request into the output pipe; a struct so the dispatcher's calls are devirtualised.</summary>
internal readonly struct RequestHandler(ServerState state, PipeWriter output, SelectResult[] results, long batchStart, long maxQueueTicks) : IRequestHandler
{
    public void OnSelect(ulong requestId, in RequestContext context, in TitleCandidate title)
    {
        var start = Stopwatch.GetTimestamp();
        var result = results.AsSpan(0, 1);
        state.Selection.Select(context, new ReadOnlySpan<TitleCandidate>(in title), result, Shed(start));
        FrameWriter.WriteSelectResult(output, requestId, result[0]);
        state.Metrics.Request(RequestKind.Select, start);
    }

    public void OnSelectPage(ulong requestId, in RequestContext context, ReadOnlySpan<TitleCandidate> titles)
    {
        var start = Stopwatch.GetTimestamp();
        var page = results.AsSpan(0, titles.Length);
        state.Selection.Select(context, titles, page, Shed(start));
        FrameWriter.WriteSelectPageResult(output, requestId, page);
        state.Metrics.Request(RequestKind.SelectPage, start);
    }

    public void OnReward(ulong requestId, in RewardRequest reward)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            FrameWriter.WriteRewardResult(output, requestId, state.RewardsService.Record(reward));
        }
        catch (InvalidOperationException)
        {
            state.Metrics.ProtocolError();
            FrameWriter.WriteError(output, requestId, ErrorCode.Unavailable);
        }

        state.Metrics.Request(RequestKind.Reward, start);
    }

    public void OnPing(ulong requestId, ulong nonce)
    {
        var start = Stopwatch.GetTimestamp();
        FrameWriter.WritePong(output, requestId, nonce);
        state.Metrics.Request(RequestKind.Ping, start);
    }

    public void OnRequestError(ulong requestId, ErrorCode error)
    {
        var start = Stopwatch.GetTimestamp();
        state.Metrics.ProtocolError();
        FrameWriter.WriteError(output, requestId, error);
        state.Metrics.Request(RequestKind.Error, start);
    }

    // Requests that waited in this batch longer than MaxQueueDelayMs are answered with defaults at once: the page
    // they belong to is likely past its own deadline, and scoring them would only push the next ones further.
    private bool Shed(long now) => now - batchStart > maxQueueTicks;
}
