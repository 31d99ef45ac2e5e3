using System.Buffers;
using System.IO.Pipelines;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Binary;

/// <summary>
/// The binary protocol on one connection: cuts frames (<see cref="FrameReader"/>), dispatches each
/// (<see cref="RequestDispatcher"/> into <see cref="BinaryRequestHandler"/>) and writes the REWARD answers that became
/// durable. A fatal framing error is answered ERROR and closes (docs/protocol.md#limits); a bad request is answered
/// ERROR and the connection stays; more than the in-flight limit in one batch are answered after the client has read
/// the first ones (back-pressure, never an error for a well-formed request).
/// </summary>
internal sealed class BinarySession(ServingSession serving, PipeWriter output, ProtocolOptions protocol, ServerMetrics metrics, int maxInFlight)
    : IPipelinedSession
{
    public BatchOutcome Process(ref ReadOnlySequence<byte> buffer, in Batch batch, out int completed)
    {
        completed = 0;
        serving.BeginBatch(in batch);
        try
        {
            WriteDurableReplies(batch.Now);
            var handler = new BinaryRequestHandler(serving, output, metrics);
            while (true)
            {
                if (completed >= maxInFlight)
                {
                    return BatchOutcome.Paused;
                }

                if (!FrameReader.TryReadFrame(ref buffer, protocol, out var frame, out var error))
                {
                    if (error == ErrorCode.None)
                    {
                        return BatchOutcome.Done;
                    }

                    // docs/protocol.md#limits: the stream cannot be resynchronised: ERROR, then close.
                    metrics.ProtocolError();
                    FrameWriter.WriteError(output, frame.RequestId, error);
                    return BatchOutcome.Close;
                }

                metrics.InFlight(1);
                try
                {
                    RequestDispatcher.Dispatch(frame, protocol, serving.Titles, ref handler);
                }
                finally
                {
                    metrics.InFlight(-1);
                }

                completed++;
            }
        }
        finally
        {
            // Rewards of this batch whose commit already landed are answered in this flush.
            WriteDurableReplies(batch.Now);
            serving.EndBatch();
        }
    }

    public bool WantsWake(long now) => serving.Replies.HasOverdue(now);

    public async ValueTask FinishAsync()
    {
        if (!serving.Replies.IsEmpty)
        {
            await serving.Replies.WaitAllAsync();
            WriteDurableReplies(System.Diagnostics.Stopwatch.GetTimestamp());
        }
    }

    public void WriteGoodbye(CloseReason reason) =>
        FrameWriter.WriteError(output, 0, reason == CloseReason.ShuttingDown ? ErrorCode.ShuttingDown : ErrorCode.IdleTimeout);

    public void OnClosed()
    {
        serving.Replies.Abandon();
        serving.Dispose();
    }

    private void WriteDurableReplies(long now)
    {
        foreach (ref readonly var reply in serving.Replies.TakeReady(now))
        {
            if (reply.Unavailable)
            {
                metrics.RewardRefused();
                FrameWriter.WriteError(output, reply.RequestId, ErrorCode.Unavailable);
            }
            else
            {
                FrameWriter.WriteRewardResult(output, reply.RequestId, reply.Status);
            }
        }
    }
}
