using System.Buffers;
using System.Text;
using EdgeSelector.Protocol;

namespace EdgeSelector.Client;

/// <summary>What a completed request yields; which field is meaningful depends on the request's opcode.</summary>
internal readonly record struct Response(SelectResult Select, int Count, RewardStatus Status, ulong Nonce);

/// <summary>One request in flight: what to write, and where its response goes.</summary>
/// <remarks>
/// The state machine makes "the caller gave up" and "the response is being delivered" mutually exclusive, so a page's
/// caller-owned result buffer is never written after the call has failed with a timeout or cancellation.
/// </remarks>
internal sealed class PendingRequest
{
    private const int Waiting = 0;
    private const int Delivering = 1;
    private const int Abandoned = 2;

    private readonly TaskCompletionSource<Response> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _state;

    private PendingRequest(Opcode opcode) => Opcode = opcode;

    public Opcode Opcode { get; }

    public Task<Response> Task => _completion.Task;

    private RequestContext _context;
    private TitleCandidate _title;
    private ReadOnlyMemory<TitleCandidate> _titles;
    private Memory<SelectResult> _results;
    private RewardRequest _reward;
    private ulong _nonce;

    public static PendingRequest Select(in RequestContext context, in TitleCandidate title) =>
        new(Opcode.Select) { _context = context, _title = title };

    public static PendingRequest SelectPage(in RequestContext context, ReadOnlyMemory<TitleCandidate> titles, Memory<SelectResult> results) =>
        new(Opcode.SelectPage) { _context = context, _titles = titles, _results = results };

    public static PendingRequest Reward(in RewardRequest reward) => new(Opcode.Reward) { _reward = reward };

    public static PendingRequest Ping(ulong nonce) => new(Opcode.Ping) { _nonce = nonce };

    public void Write(IBufferWriter<byte> output, ulong requestId)
    {
        switch (Opcode)
        {
            case Opcode.Select:
                FrameWriter.WriteSelect(output, requestId, in _context, in _title);
                break;
            case Opcode.SelectPage:
                FrameWriter.WriteSelectPage(output, requestId, in _context, _titles.Span);
                break;
            case Opcode.Reward:
                FrameWriter.WriteReward(output, requestId, in _reward);
                break;
            default:
                FrameWriter.WritePing(output, requestId, _nonce);
                break;
        }
    }

    /// <summary>Called by the read loop with this request's response frame.</summary>
    public void Deliver(in Frame frame)
    {
        if (Interlocked.CompareExchange(ref _state, Delivering, Waiting) != Waiting)
        {
            return;
        }

        if (frame.Opcode == Opcode.Error)
        {
            _completion.TrySetException(ToException(frame.Payload));
            return;
        }

        if (frame.Opcode != (Opcode)((byte)Opcode | 0x80))
        {
            _completion.TrySetException(new EdgeSelectorProtocolException(
                ErrorCode.UnknownOpcode, $"expected the response to {Opcode}, got opcode 0x{(byte)frame.Opcode:x2}"));
            return;
        }

        Response response = default;
        ErrorCode error = Opcode switch
        {
            Opcode.Select => ReadSelect(frame.Payload, ref response),
            Opcode.SelectPage => ReadPage(frame.Payload, ref response),
            Opcode.Reward => ReadReward(frame.Payload, ref response),
            _ => ReadPong(frame.Payload, ref response),
        };

        if (error == ErrorCode.None)
        {
            _completion.TrySetResult(response);
        }
        else
        {
            _completion.TrySetException(new EdgeSelectorProtocolException(error, $"unreadable response to {Opcode}"));
        }
    }

    /// <summary>Fails the request unless its response is already being delivered.</summary>
    public bool TryFail(Exception exception)
    {
        if (Interlocked.CompareExchange(ref _state, Abandoned, Waiting) != Waiting)
        {
            return false;
        }

        _completion.TrySetException(exception);
        return true;
    }

    /// <summary>Marks the request given up (timeout, cancellation); false when its response is being delivered right now.</summary>
    public bool TryAbandon() => Interlocked.CompareExchange(ref _state, Abandoned, Waiting) == Waiting;

    public static EdgeSelectorProtocolException ToException(in ReadOnlySequence<byte> errorPayload)
    {
        if (PayloadReader.ReadError(errorPayload, out ErrorCode code, out ReadOnlySequence<byte> message) != ErrorCode.None)
        {
            return new EdgeSelectorProtocolException(ErrorCode.MalformedPayload, "unreadable ERROR frame");
        }

        return new EdgeSelectorProtocolException(code, Encoding.UTF8.GetString(message));
    }

    private static ErrorCode ReadSelect(in ReadOnlySequence<byte> payload, ref Response response)
    {
        ErrorCode error = PayloadReader.ReadSelectResult(payload, out SelectResult result);
        response = response with { Select = result };
        return error;
    }

    private ErrorCode ReadPage(in ReadOnlySequence<byte> payload, ref Response response)
    {
        ErrorCode error = PayloadReader.ReadSelectPageResult(payload, _results.Span, out int count);
        response = response with { Count = count };
        return error;
    }

    private static ErrorCode ReadReward(in ReadOnlySequence<byte> payload, ref Response response)
    {
        ErrorCode error = PayloadReader.ReadRewardResult(payload, out RewardStatus status);
        response = response with { Status = status };
        return error;
    }

    private static ErrorCode ReadPong(in ReadOnlySequence<byte> payload, ref Response response)
    {
        ErrorCode error = PayloadReader.ReadPing(payload, out ulong nonce);
        response = response with { Nonce = nonce };
        return error;
    }
}
