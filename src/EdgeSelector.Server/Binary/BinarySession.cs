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
/// <see cref="ServingSession.ProfilesAhead"/> requests at a time.
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
            var ahead = 0; // requests whose profiles were read ahead
            while (true)
            {
                if (completed >= maxInFlight)
                {
                    return BatchOutcome.Paused;
                }

                if (completed >= ahead)
                {
                    ahead = completed + ReadProfilesAhead(buffer, maxInFlight - completed);
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

    // Looks over the next whole frames (at most `limit`, and ServingSession.ProfilesAhead) without consuming them, names
    // the members whose SELECT or SELECT_PAGE will read a profile (no request genres), and reads those profiles
    // together. Stops at the first incomplete or fatal frame: the dispatch loop answers it. Returns how many requests
    // it covered (at least 1, so the loop looks again only after it has answered them).
    private int ReadProfilesAhead(ReadOnlySequence<byte> buffer, int limit)
    {
        var max = Math.Min(limit, ServingSession.ProfilesAhead);
        var seen = 0;
        while (seen < max && FrameReader.TryReadFrame(ref buffer, protocol, out var frame, out _))
        {
            seen++;
            if (frame.Opcode is Opcode.Select or Opcode.SelectPage
                && PayloadPeek.TryReadMember(frame.Payload, out var member, out var hasGenres) && !hasGenres)
            {
                serving.ExpectProfile(member);
            }
        }

        serving.ReadProfiles();
        return Math.Max(seen, 1);
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
