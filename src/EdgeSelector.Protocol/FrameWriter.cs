using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MessagePack;

namespace EdgeSelector.Protocol;

/// <summary>
/// Writes whole frames through <see cref="IBufferWriter{T}"/> (docs/protocol.md#payloads). Allocation-free (proved by
/// <c>AllocationTests</c>).
/// </summary>
/// <remarks>
/// Payloads use MessagePack's fixed-width forms (uint32 is always <c>ce xx xx xx xx</c>, float always
/// <c>ca ...</c>) so each payload's size is known before it is written: the header, which leads with the length, goes
/// out first and nothing is buffered twice. Readers accept any encoding, so other clients may write compact forms.
/// </remarks>
public static class FrameWriter
{
    // Sizes of the fixed-width MessagePack forms this writer emits.
    private const int U8 = 2;
    private const int U16 = 3;
    private const int U32 = 5;
    private const int U64 = 9;
    private const int I64 = 9;
    private const int F32 = 5;
    private const int Bool = 1;
    private const int Nil = 1;
    private const int TitleSize = 1 + U32 + F32 + Bool;
    private const int ResultSize = 1 + U32 + U32 + U64 + F32 + U64 + U8 + U64;
    private const int SelectResultFrameSize = FrameHeader.Size + ResultSize;

    /// <summary>Writes a SELECT request: <c>[context, title]</c>.</summary>
    public static void WriteSelect(IBufferWriter<byte> output, ulong requestId, in RequestContext context, in TitleCandidate title)
    {
        var writer = Begin(output, Opcode.Select, requestId, 1 + ContextSize(in context) + TitleSize);
        writer.WriteArrayHeader(2);
        WriteContext(ref writer, in context);
        WriteTitle(ref writer, in title);
        writer.Flush();
    }

    /// <summary>Writes a SELECT_PAGE request: <c>[context, [title, ...]]</c>.</summary>
    public static void WriteSelectPage(IBufferWriter<byte> output, ulong requestId, in RequestContext context, ReadOnlySpan<TitleCandidate> titles)
    {
        int size = 1 + ContextSize(in context) + ArrayHeaderSize(titles.Length) + (titles.Length * TitleSize);
        var writer = Begin(output, Opcode.SelectPage, requestId, size);
        writer.WriteArrayHeader(2);
        WriteContext(ref writer, in context);
        writer.WriteArrayHeader(titles.Length);
        foreach (ref readonly TitleCandidate title in titles)
        {
            WriteTitle(ref writer, in title);
        }

        writer.Flush();
    }

    /// <summary>
    /// Writes a REWARD request:
    /// <c>[event_id, play_started, minutes_watched, fraction_completed, timestamp_ms|nil, event_tag]</c>.
    /// </summary>
    public static void WriteReward(IBufferWriter<byte> output, ulong requestId, in RewardRequest reward)
    {
        int size = 1 + U64 + Bool + F32 + F32 + TimestampSize(reward.TimestampUnixMs) + U64;
        var writer = Begin(output, Opcode.Reward, requestId, size);
        writer.WriteArrayHeader(6);
        writer.WriteUInt64(reward.EventId);
        writer.Write(reward.PlayStarted);
        writer.Write(reward.MinutesWatched);
        writer.Write(reward.FractionCompleted);
        WriteTimestamp(ref writer, reward.TimestampUnixMs);
        writer.WriteUInt64(reward.EventTag);
        writer.Flush();
    }

    /// <summary>Writes a PING request: <c>[nonce]</c>.</summary>
    public static void WritePing(IBufferWriter<byte> output, ulong requestId, ulong nonce) =>
        WriteNonce(output, Opcode.Ping, requestId, nonce);

    /// <summary>Writes a PONG response: <c>[nonce]</c>, echoing the PING's nonce.</summary>
    public static void WritePong(IBufferWriter<byte> output, ulong requestId, ulong nonce) =>
        WriteNonce(output, Opcode.Pong, requestId, nonce);

    /// <summary>Writes a SELECT_RESULT response: <c>[title_id, image_id, event_id, propensity, model_version, reason, event_tag]</c>.</summary>
    /// <remarks>
    /// Every field has one fixed-width form here, so the 61 bytes are stored straight into one span: one
    /// <see cref="IBufferWriter{T}.GetSpan"/> and one <see cref="IBufferWriter{T}.Advance"/> per frame, no MessagePackWriter
    /// (FrameWriterTests compare the bytes with MessagePackWriter's).
    /// </remarks>
    public static void WriteSelectResult(IBufferWriter<byte> output, ulong requestId, in SelectResult result)
    {
        Span<byte> span = output.GetSpan(SelectResultFrameSize);
        if (span.Length < SelectResultFrameSize)
        {
            ThrowHelper.ThrowShortSpan();
        }

        ref byte frame = ref MemoryMarshal.GetReference(span);
        WriteHeader(ref frame, Opcode.SelectResult, requestId, SelectResultFrameSize);
        WriteResultFixed(ref Unsafe.Add(ref frame, FrameHeader.Size), in result);
        output.Advance(SelectResultFrameSize);
    }

    /// <summary>Writes a SELECT_PAGE_RESULT response: <c>[result, ...]</c>, one entry per requested title, in order.</summary>
    /// <remarks>As <see cref="WriteSelectResult"/>: the results are stored straight, as many per span as fit.</remarks>
    public static void WriteSelectPageResult(IBufferWriter<byte> output, ulong requestId, ReadOnlySpan<SelectResult> results)
    {
        int arrayHeader = ArrayHeaderSize(results.Length);
        Span<byte> span = output.GetSpan(FrameHeader.Size + 5);
        if (span.Length < FrameHeader.Size + 5)
        {
            ThrowHelper.ThrowShortSpan();
        }

        ref byte frame = ref MemoryMarshal.GetReference(span);
        WriteHeader(ref frame, Opcode.SelectPageResult, requestId, SelectPageResultFrameSize(results.Length));
        WriteArrayHeaderFixed(ref Unsafe.Add(ref frame, FrameHeader.Size), results.Length, arrayHeader);
        output.Advance(FrameHeader.Size + arrayHeader);
        int i = 0;
        while (i < results.Length)
        {
            span = output.GetSpan(ResultSize);
            int fit = Math.Min(span.Length / ResultSize, results.Length - i);
            if (fit <= 0)
            {
                ThrowHelper.ThrowShortSpan();
            }

            ref byte next = ref MemoryMarshal.GetReference(span);
            for (int k = 0; k < fit; k++)
            {
                WriteResultFixed(ref Unsafe.Add(ref next, k * ResultSize), in results[i + k]);
            }

            output.Advance(fit * ResultSize);
            i += fit;
        }
    }

    /// <summary>Writes a REWARD_RESULT response: <c>[status]</c>.</summary>
    public static void WriteRewardResult(IBufferWriter<byte> output, ulong requestId, RewardStatus status)
    {
        var writer = Begin(output, Opcode.RewardResult, requestId, 1 + U8);
        writer.WriteArrayHeader(1);
        writer.WriteUInt8((byte)status);
        writer.Flush();
    }

    /// <summary>Writes an ERROR frame: <c>[code, message]</c> with the code's fixed message from <see cref="ErrorCodes.Message"/>.</summary>
    public static void WriteError(IBufferWriter<byte> output, ulong requestId, ErrorCode code)
    {
        ReadOnlySpan<byte> message = ErrorCodes.Message(code);
        var writer = Begin(output, Opcode.Error, requestId, 1 + U16 + StringHeaderSize(message.Length) + message.Length);
        writer.WriteArrayHeader(2);
        writer.WriteUInt16((ushort)code);
        writer.WriteString(message);
        writer.Flush();
    }

    /// <summary>Size in bytes of the frame <see cref="WriteSelectPage"/> writes for <paramref name="titleCount"/> titles.</summary>
    public static int SelectPageFrameSize(in RequestContext context, int titleCount) =>
        FrameHeader.Size + 1 + ContextSize(in context) + ArrayHeaderSize(titleCount) + (titleCount * TitleSize);

    /// <summary>Size in bytes of the frame <see cref="WriteSelectPageResult"/> writes for <paramref name="resultCount"/> results.</summary>
    public static int SelectPageResultFrameSize(int resultCount) =>
        FrameHeader.Size + ArrayHeaderSize(resultCount) + (resultCount * ResultSize);

    private static MessagePackWriter Begin(IBufferWriter<byte> output, Opcode opcode, ulong requestId, int payloadSize)
    {
        // header: u32 length | u8 version | u8 opcode | u16 flags | u64 request id (docs/protocol.md#frame-header)
        Span<byte> header = output.GetSpan(FrameHeader.Size);
        new FrameHeader((uint)(FrameHeader.Size + payloadSize), FrameHeader.CurrentVersion, opcode, 0, requestId).Write(header);
        output.Advance(FrameHeader.Size);
        return new MessagePackWriter(output);
    }

    // header: u32 length | u8 version | u8 opcode | u16 flags | u64 request id (docs/protocol.md#frame-header), stored
    // at frame[0..16); the caller checked the span.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteHeader(ref byte frame, Opcode opcode, ulong requestId, int frameSize)
    {
        // length, version, opcode and flags (0) as one little-endian word
        ulong first = (uint)frameSize | ((ulong)FrameHeader.CurrentVersion << 32) | ((ulong)opcode << 40);
        Unsafe.WriteUnaligned(ref frame, ToLittleEndian(first));
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref frame, 8), ToLittleEndian(requestId));
    }

    // A fixed-width array header as MessagePackWriter.WriteArrayHeader writes it: fixarray, array16 or array32.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteArrayHeaderFixed(ref byte p, int count, int size)
    {
        if (size == 1)
        {
            p = (byte)(0x90 | count);
        }
        else if (size == 3)
        {
            p = 0xdc;
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref p, 1), ToBigEndian((ushort)count));
        }
        else
        {
            p = 0xdd;
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref p, 1), ToBigEndian((uint)count));
        }
    }

    // result: 97 | ce title_id | ce image_id | cf event_id | ca propensity | cf model_version | cc reason | cf event_tag
    // (45 bytes, big-endian values: MessagePack's fixed-width forms, what WriteResult writes through MessagePackWriter).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteResultFixed(ref byte p, in SelectResult result)
    {
        p = 0x97;
        Unsafe.Add(ref p, 1) = 0xce;
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref p, 2), ToBigEndian(result.TitleId));
        Unsafe.Add(ref p, 6) = 0xce;
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref p, 7), ToBigEndian(result.ImageId));
        Unsafe.Add(ref p, 11) = 0xcf;
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref p, 12), ToBigEndian(result.EventId));
        Unsafe.Add(ref p, 20) = 0xca;
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref p, 21), ToBigEndian(BitConverter.SingleToUInt32Bits(result.Propensity)));
        Unsafe.Add(ref p, 25) = 0xcf;
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref p, 26), ToBigEndian(result.ModelVersion));
        Unsafe.Add(ref p, 34) = 0xcc;
        Unsafe.Add(ref p, 35) = (byte)result.Reason;
        Unsafe.Add(ref p, 36) = 0xcf;
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref p, 37), ToBigEndian(result.EventTag));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort ToBigEndian(ushort value) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ToBigEndian(uint value) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ToBigEndian(ulong value) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ToLittleEndian(ulong value) => BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);

    private static void WriteNonce(IBufferWriter<byte> output, Opcode opcode, ulong requestId, ulong nonce)
    {
        var writer = Begin(output, opcode, requestId, 1 + U64);
        writer.WriteArrayHeader(1);
        writer.WriteUInt64(nonce);
        writer.Flush();
    }

    // context: [member_id, country, language, device, hour, day_of_week, genres|nil, timestamp_ms|nil]
    private static void WriteContext(ref MessagePackWriter writer, in RequestContext context)
    {
        writer.WriteArrayHeader(8);
        writer.WriteUInt64(context.MemberId);
        writer.WriteUInt16(context.Country);
        writer.WriteUInt16(context.Language);
        writer.WriteUInt8((byte)context.Device);
        writer.WriteUInt8(context.HourOfDay);
        writer.WriteUInt8(context.DayOfWeek);
        if (context.GenreCount == 0)
        {
            writer.WriteNil();
        }
        else
        {
            writer.WriteArrayHeader(context.GenreCount);
            foreach (float affinity in context.GenreSpan)
            {
                writer.Write(affinity);
            }
        }

        WriteTimestamp(ref writer, context.TimestampUnixMs);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteTitle(ref MessagePackWriter writer, in TitleCandidate title)
    {
        writer.WriteArrayHeader(3);
        writer.WriteUInt32(title.TitleId);
        writer.Write(title.Score);
        writer.Write(title.InteractedBefore);
    }

    private static void WriteTimestamp(ref MessagePackWriter writer, long timestamp)
    {
        if (timestamp == 0)
        {
            writer.WriteNil();
        }
        else
        {
            writer.WriteInt64(timestamp);
        }
    }

    private static int ContextSize(in RequestContext context) =>
        1 + U64 + U16 + U16 + U8 + U8 + U8
        + (context.GenreCount == 0 ? Nil : ArrayHeaderSize(context.GenreCount) + (context.GenreCount * F32))
        + TimestampSize(context.TimestampUnixMs);

    private static int TimestampSize(long timestamp) => timestamp == 0 ? Nil : I64;

    private static int ArrayHeaderSize(int count) => count < 16 ? 1 : count <= ushort.MaxValue ? 3 : 5;

    // MessagePack spec (not the 2013 "old spec"): fixstr < 32 bytes, str8 < 256, str16 beyond.
    private static int StringHeaderSize(int length) => length < 32 ? 1 : length < 256 ? 2 : 3;
}
