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
/// the first ones (back-pressure, never an error for a well-formed request). Before the requests of a batch are
/// answered, their members' profiles are read together (<see cref="ReadProfilesAhead"/>), up to
/// <see cref="ServingSession.ProfilesAhead"/> requests at a time; the frames are cut once, for the look-ahead, and
/// answered from what it cut (<see cref="FrameReader.ReadFrames"/>).
/// </summary>
internal sealed class BinarySession(ServingSession serving, PipeWriter output, ProtocolOptions protocol, ServerMetrics metrics, int maxInFlight)
    : IPipelinedSession
{
    // The frames of the chunk being answered, cut once by the look-ahead (FrameReader.ReadFrames) and dispatched from
    // here: no per-batch allocation, no second cut. Entries past the chunk are stale, never read.
    private readonly Frame[] _frames = new Frame[ServingSession.ProfilesAhead];

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

                // The next chunk: cut (buffer moves past it), profiles read together, then answered in order. Its
                // payloads stay valid: they point into the pipe's memory, which is released only after this batch.
                var limit = Math.Min(maxInFlight - completed, ServingSession.ProfilesAhead);
                var frames = _frames.AsSpan(0, limit);
                var count = FrameReader.ReadFrames(ref buffer, protocol, frames, out var error, out var errorRequestId);
                ReadProfilesAhead(frames[..count]);

                // The in-flight gauge counts the chunk's requests while the chunk is answered: two striped adds per
                // chunk, not per request (Garnet's side effects per batch).
                metrics.InFlight(count);
                try
                {
                    for (var i = 0; i < count; i++)
                    {
                        RequestDispatcher.Dispatch(in frames[i], protocol, serving.Titles, ref handler);
                        completed++;
                    }
                }
                finally
                {
                    metrics.InFlight(-count);
                }

                if (count < limit)
                {
                    if (error == ErrorCode.None)
                    {
                        return BatchOutcome.Done; // an incomplete frame (or none) is left in buffer
                    }

                    // docs/protocol.md#limits: the stream cannot be resynchronised: ERROR, then close.
                    metrics.ProtocolError();
                    FrameWriter.WriteError(output, errorRequestId, error);
                    return BatchOutcome.Close;
                }
            }
        }
        finally
        {
            // Rewards of this batch whose commit already landed are answered in this flush.
            WriteDurableReplies(batch.Now);
            serving.EndBatch();
        }
    }

    public bool WantsWake(long now) => serving.Replies.HasDue(now);

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

    // Names the members of the chunk's SELECTs and SELECT_PAGEs that will read a profile (no request genres) and reads
    // those profiles together. The chunk stops at the first incomplete or fatal frame: the loop answers it after the
    // chunk.
    private void ReadProfilesAhead(ReadOnlySpan<Frame> frames)
    {
        foreach (ref readonly var frame in frames)
        {
            if (frame.Opcode is Opcode.Select or Opcode.SelectPage
                && PayloadPeek.TryReadMember(frame.Payload, out var member, out var hasGenres) && !hasGenres)
            {
                serving.ExpectProfile(member);
            }
        }

        serving.ReadProfiles();
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
