using System.Buffers;

namespace EdgeSelector.Protocol;

/// <summary>A whole frame: its header and a payload slice of the input, valid until the input is advanced past it.</summary>
public readonly struct Frame(FrameHeader header, ReadOnlySequence<byte> payload)
{
    /// <summary>The decoded header.</summary>
    public FrameHeader Header { get; } = header;

    /// <summary>The MessagePack payload, a slice of the caller's buffer (no copy).</summary>
    public ReadOnlySequence<byte> Payload { get; } = payload;

    /// <summary>Shorthand for <see cref="FrameHeader.Opcode"/>.</summary>
    public Opcode Opcode => Header.Opcode;

    /// <summary>Shorthand for <see cref="FrameHeader.RequestId"/>.</summary>
    public ulong RequestId => Header.RequestId;
}
