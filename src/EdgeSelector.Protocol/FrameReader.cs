using System.Buffers;
using System.Runtime.CompilerServices;

namespace EdgeSelector.Protocol;

/// <summary>Cuts frames out of a byte stream (docs/protocol.md#frame-header); never throws on bad input.</summary>
public static class FrameReader
{
    /// <summary>
    /// Reads one frame from the start of <paramref name="buffer"/> and, on success, advances <paramref name="buffer"/>
    /// past it.
    /// </summary>
    /// <returns>
    /// True with a frame. False with <paramref name="error"/> = <see cref="ErrorCode.None"/> when the input is
    /// incomplete; nothing is consumed. False with a fatal <paramref name="error"/> when the stream cannot be
    /// resynchronised: nothing is consumed, send ERROR with <c>frame.RequestId</c> (0 unless the header was
    /// trustworthy), then close.
    /// </returns>
    /// <remarks>
    /// A too-large length is rejected as soon as the 16 header bytes arrive, before the body is buffered, so a peer
    /// cannot make the server hold more than <see cref="ProtocolOptions.MaxFrameSize"/> bytes.
    /// </remarks>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, ProtocolOptions options, out Frame frame, out ErrorCode error)
    {
        FrameHeader header;
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= FrameHeader.Size)
        {
            header = FrameHeader.Read(first);
        }
        else if (!TryReadHeaderMultiSegment(in buffer, out header))
        {
            frame = default;
            error = ErrorCode.None;
            return false;
        }

        error = Validate(in header, options.MaxFrameSize);
        if (error != ErrorCode.None)
        {
            // Only a header whose version we recognise has a request id worth echoing.
            frame = error == ErrorCode.UnsupportedVersion ? default : new Frame(header, default);
            return false;
        }

        long length = header.Length;
        if (first.Length >= length)
        {
            // Fast path: the whole frame sits in the first segment.
            frame = new Frame(header, buffer.Slice(FrameHeader.Size, length - FrameHeader.Size));
            buffer = buffer.Slice(length);
            return true;
        }

        return TryCutMultiSegment(ref buffer, in header, out frame);
    }

    /// <summary>
    /// Cuts up to <paramref name="frames"/>.Length whole frames from the start of <paramref name="buffer"/>, each once,
    /// and advances <paramref name="buffer"/> past them: a server that looks over a batch before answering it keeps
    /// the frames it cut instead of cutting them again. Same frames, errors and request ids as
    /// <see cref="TryReadFrame"/> called in a loop (FrameReaderBatchTests compare the two at every split).
    /// </summary>
    /// <returns>
    /// How many frames were cut. Fewer than <paramref name="frames"/>.Length when the next frame is incomplete
    /// (<paramref name="error"/> = <see cref="ErrorCode.None"/>; its bytes are not consumed) or fatal (answer the
    /// frames cut first, then ERROR with <paramref name="errorRequestId"/>, then close; see <see cref="TryReadFrame"/>).
    /// </returns>
    /// <remarks>
    /// A payload is a slice of the memory behind <paramref name="buffer"/>, valid as long as that memory is (for a
    /// <c>PipeReader</c>'s buffer: until it is advanced past the frame), not as long as <paramref name="buffer"/> is not
    /// advanced. Frames that sit whole in the first segment are cut by offset into its span and the sequence is sliced
    /// once per segment, not twice per frame.
    /// </remarks>
    public static int ReadFrames(ref ReadOnlySequence<byte> buffer, ProtocolOptions options, Span<Frame> frames, out ErrorCode error, out ulong errorRequestId)
    {
        int count = 0;
        error = ErrorCode.None;
        errorRequestId = 0;
        while (count < frames.Length)
        {
            ReadOnlySpan<byte> span = buffer.FirstSpan;
            SequencePosition start = buffer.Start;
            var segment = start.GetObject() as ReadOnlySequenceSegment<byte>;
            int pos = 0;
            while (count < frames.Length && span.Length - pos >= FrameHeader.Size)
            {
                FrameHeader header = FrameHeader.Read(span[pos..]);
                if (Validate(in header, options.MaxFrameSize) != ErrorCode.None || header.Length > (uint)(span.Length - pos))
                {
                    break; // TryReadFrame below answers it: fatal, incomplete or across segments
                }

                // A pipe's buffer is a chain of segments: the payload is built on the first one from its offsets (the
                // sequence a Slice would give, without Slice's general position arithmetic); any other buffer is sliced.
                int at = pos + FrameHeader.Size;
                ReadOnlySequence<byte> payload = segment is not null
                    ? new ReadOnlySequence<byte>(segment, start.GetInteger() + at, segment, start.GetInteger() + pos + (int)header.Length)
                    : buffer.Slice(at, header.PayloadLength);
                frames[count++] = new Frame(header, payload);
                pos += (int)header.Length;
            }

            if (pos > 0)
            {
                buffer = buffer.Slice(pos);
            }

            if (count == frames.Length)
            {
                break;
            }

            if (!TryReadFrame(ref buffer, options, out frames[count], out error))
            {
                errorRequestId = frames[count].RequestId;
                frames[count] = default;
                break;
            }

            count++;
        }

        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ErrorCode Validate(in FrameHeader header, int maxFrameSize)
    {
        if (header.Version != FrameHeader.CurrentVersion)
        {
            return ErrorCode.UnsupportedVersion;
        }

        if (header.Length < FrameHeader.Size)
        {
            return ErrorCode.MalformedHeader;
        }

        return header.Length > (uint)maxFrameSize ? ErrorCode.FrameTooLarge : ErrorCode.None;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryReadHeaderMultiSegment(in ReadOnlySequence<byte> buffer, out FrameHeader header)
    {
        if (buffer.Length < FrameHeader.Size)
        {
            header = default;
            return false;
        }

        Span<byte> bytes = stackalloc byte[FrameHeader.Size];
        buffer.Slice(0, FrameHeader.Size).CopyTo(bytes);
        header = FrameHeader.Read(bytes);
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryCutMultiSegment(ref ReadOnlySequence<byte> buffer, in FrameHeader header, out Frame frame)
    {
        long length = header.Length;
        if (buffer.Length < length)
        {
            frame = default;
            return false;
        }

        frame = new Frame(header, buffer.Slice(FrameHeader.Size, length - FrameHeader.Size));
        buffer = buffer.Slice(length);
        return true;
    }
}
