namespace EdgeSelector.Protocol;

/// <summary>What a server does with each decoded request; implement it on a struct so calls are devirtualised.</summary>
public interface IRequestHandler
{
    /// <summary>A valid SELECT.</summary>
    void OnSelect(ulong requestId, in RequestContext context, in TitleCandidate title);

    /// <summary>A valid SELECT_PAGE; <paramref name="titles"/> is the dispatcher's scratch, valid only during the call.</summary>
    void OnSelectPage(ulong requestId, in RequestContext context, ReadOnlySpan<TitleCandidate> titles);

    /// <summary>A valid REWARD.</summary>
    void OnReward(ulong requestId, in RewardRequest reward);

    /// <summary>A PING; answer with PONG carrying <paramref name="nonce"/>.</summary>
    void OnPing(ulong requestId, ulong nonce);

    /// <summary>A well-formed frame with a bad request: answer ERROR with <paramref name="error"/> and keep the connection.</summary>
    void OnRequestError(ulong requestId, ErrorCode error);
}

/// <summary>Decodes a request frame's payload and calls the matching <see cref="IRequestHandler"/> method.</summary>
public static class RequestDispatcher
{
    /// <summary>
    /// Decodes <paramref name="frame"/> and calls exactly one method of <paramref name="handler"/>; never throws on bad
    /// input. Allocation-free (proved by <c>AllocationTests</c>).
    /// </summary>
    /// <param name="frame">A frame from <see cref="FrameReader.TryReadFrame"/>.</param>
    /// <param name="options">The limits to enforce.</param>
    /// <param name="titleScratch">Per-connection space for <see cref="ProtocolOptions.MaxTitlesPerPage"/> titles.</param>
    /// <param name="handler">Receives the request.</param>
    public static void Dispatch<THandler>(in Frame frame, ProtocolOptions options, Span<TitleCandidate> titleScratch, ref THandler handler)
        where THandler : IRequestHandler, allows ref struct
    {
        ulong id = frame.RequestId;
        ErrorCode error;
        switch (frame.Opcode)
        {
            case Opcode.Select:
                error = PayloadReader.ReadSelect(frame.Payload, out RequestContext context, out TitleCandidate title);
                if (error == ErrorCode.None)
                {
                    handler.OnSelect(id, in context, in title);
                    return;
                }

                break;
            case Opcode.SelectPage:
                error = PayloadReader.ReadSelectPage(frame.Payload, options, out RequestContext pageContext, titleScratch, out int count);
                if (error == ErrorCode.None)
                {
                    handler.OnSelectPage(id, in pageContext, titleScratch[..count]);
                    return;
                }

                break;
            case Opcode.Reward:
                error = PayloadReader.ReadReward(frame.Payload, out RewardRequest reward);
                if (error == ErrorCode.None)
                {
                    handler.OnReward(id, in reward);
                    return;
                }

                break;
            case Opcode.Ping:
                error = PayloadReader.ReadPing(frame.Payload, out ulong nonce);
                if (error == ErrorCode.None)
                {
                    handler.OnPing(id, nonce);
                    return;
                }

                break;
            default:
                // Includes response opcodes: a client has no business sending them.
                error = ErrorCode.UnknownOpcode;
                break;
        }

        handler.OnRequestError(id, error);
    }
}
