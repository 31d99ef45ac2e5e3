using System.Diagnostics;
using System.IO.Pipelines;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Binary;

/// <summary>
/// Answers one decoded request into the output pipe; a struct so the dispatcher's calls are devirtualised. Overload
/// shedding and the page deadline are the serving layer's (<see cref="SheddingPolicy"/>), the same for every front door.
/// </summary>
internal readonly struct BinaryRequestHandler(ServingSession serving, PipeWriter output, ServerMetrics metrics) : IRequestHandler
{
    public void OnSelect(ulong requestId, in RequestContext context, in TitleCandidate title)
    {
        var start = Stopwatch.GetTimestamp();
        var result = serving.SelectOne(in context, in title);
        FrameWriter.WriteSelectResult(output, requestId, result);
        metrics.Request(RequestKind.Select, start);
    }

    public void OnSelectPage(ulong requestId, in RequestContext context, ReadOnlySpan<TitleCandidate> titles)
    {
        var start = Stopwatch.GetTimestamp();
        var page = serving.Results.AsSpan(0, titles.Length);
        serving.Select(in context, titles, page);
        FrameWriter.WriteSelectPageResult(output, requestId, page);
        metrics.Request(RequestKind.SelectPage, start);
    }

    public void OnReward(ulong requestId, in RewardRequest reward)
    {
        var start = Stopwatch.GetTimestamp();
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
        metrics.Request(RequestKind.Reward, start);
    }

    public void OnPing(ulong requestId, ulong nonce)
    {
        var start = Stopwatch.GetTimestamp();
        FrameWriter.WritePong(output, requestId, nonce);
        metrics.Request(RequestKind.Ping, start);
    }

    public void OnRequestError(ulong requestId, ErrorCode error)
    {
        var start = Stopwatch.GetTimestamp();
        metrics.ProtocolError();
        FrameWriter.WriteError(output, requestId, error);
        metrics.Request(RequestKind.Error, start);
    }
}
