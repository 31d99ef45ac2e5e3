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
