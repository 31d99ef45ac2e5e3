using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace EdgeSelector.Protocol;

/// <summary>Frame types; a response carries its request's opcode with the high bit set (docs/protocol.md#opcodes).</summary>
public enum Opcode : byte
{
    /// <summary>Pick the artwork for one title.</summary>
    Select = 0x01,
    /// <summary>Pick the artwork for every title of a page.</summary>
    SelectPage = 0x02,
    /// <summary>Report what the member did after seeing an image.</summary>
    Reward = 0x03,
    /// <summary>Liveness probe; echoes a nonce.</summary>
    Ping = 0x04,
    /// <summary>Answer to <see cref="Select"/>.</summary>
    SelectResult = 0x81,
    /// <summary>Answer to <see cref="SelectPage"/>.</summary>
    SelectPageResult = 0x82,
    /// <summary>Answer to <see cref="Reward"/>.</summary>
    RewardResult = 0x83,
    /// <summary>Answer to <see cref="Ping"/>.</summary>
    Pong = 0x84,
    /// <summary>The request (or, with request id 0, the connection) failed; payload is an error code and message.</summary>
    Error = 0xFF,
}

/// <summary>The fixed 16-byte little-endian header that starts every frame (docs/protocol.md#frame-header).</summary>
/// <remarks>
/// <code>
/// offset 0  u32 length      whole frame, header included (16 ..= MaxFrameSize)
/// offset 4  u8  version     1
/// offset 5  u8  opcode      see Opcode
/// offset 6  u16 flags       reserved: senders write 0, receivers ignore
/// offset 8  u64 request id  chosen by the client, echoed by the response
/// </code>
/// </remarks>
public readonly record struct FrameHeader(uint Length, byte Version, Opcode Opcode, ushort Flags, ulong RequestId)
{
    /// <summary>Size of the header in bytes.</summary>
    public const int Size = 16;

    /// <summary>The only protocol version this library speaks.</summary>
    public const byte CurrentVersion = 1;

    /// <summary>Length of the MessagePack payload that follows the header.</summary>
    public int PayloadLength => (int)Length - Size;

    /// <summary>Decodes a header from the first 16 bytes of <paramref name="source"/>; no validation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FrameHeader Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(source),
        source[4],
        (Opcode)source[5],
        BinaryPrimitives.ReadUInt16LittleEndian(source[6..]),
        BinaryPrimitives.ReadUInt64LittleEndian(source[8..]));

    /// <summary>Encodes this header into the first 16 bytes of <paramref name="destination"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], RequestId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Length);
        destination[4] = Version;
        destination[5] = (byte)Opcode;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], Flags);
    }
}
