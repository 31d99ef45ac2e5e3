using System.IO.Pipelines;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Binary;

/// <summary>
/// Answers one decoded request into the output pipe; a struct so the dispatcher's calls are devirtualised. Overload
/// shedding and the page deadline are the serving layer's (<see cref="SheddingPolicy"/>), the same for every front door.
/// Requests are counted in the session and timed with their batch (<see cref="ServingSession.EndBatch"/>): no clock
/// reading per request.
/// </summary>
internal readonly struct BinaryRequestHandler(ServingSession serving, PipeWriter output, ServerMetrics metrics) : IRequestHandler
{
    public void OnSelect(ulong requestId, in RequestContext context, in TitleCandidate title)
    {
        var result = serving.SelectOne(in context, in title);
        FrameWriter.WriteSelectResult(output, requestId, result);
        serving.Count(RequestKind.Select);
    }

    public void OnSelectPage(ulong requestId, in RequestContext context, ReadOnlySpan<TitleCandidate> titles)
    {
        var page = serving.Results.AsSpan(0, titles.Length);
        serving.Select(in context, titles, page);
        FrameWriter.WriteSelectPageResult(output, requestId, page);
        serving.Count(RequestKind.SelectPage);
    }

    public void OnReward(ulong requestId, in RewardRequest reward)
    {
        if (!serving.TryReward(requestId, in reward, out var status, out var answerNow))
        {
            // docs/protocol.md#error-codes: the reward log cannot take it now; the id was not remembered: retry.
            FrameWriter.WriteError(output, requestId, ErrorCode.Unavailable);
        }
        else if (answerNow)
        {
            FrameWriter.WriteRewardResult(output, requestId, status);
        }

        // Otherwise "accepted" waits for the commit that holds the record (DurableReplies); the requests pipelined
        // behind it are answered meanwhile (responses may be out of order, docs/protocol.md#transport).
        serving.Count(RequestKind.Reward);
    }

    public void OnPing(ulong requestId, ulong nonce)
    {
        FrameWriter.WritePong(output, requestId, nonce);
        serving.Count(RequestKind.Ping);
    }

    public void OnRequestError(ulong requestId, ErrorCode error)
    {
        metrics.ProtocolError();
        FrameWriter.WriteError(output, requestId, error);
        serving.Count(RequestKind.Error);
    }
}
