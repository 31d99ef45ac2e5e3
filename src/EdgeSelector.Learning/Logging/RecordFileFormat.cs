namespace EdgeSelector.Learning.Logging;

/// <summary>Constants and checksum of the record file format (docs/impression-log.md, "Record files").</summary>
public static class RecordFileFormat
{
    /// <summary>File header: "ESRF", u16 version, u16 reserved.</summary>
    public const int HeaderSize = 8;

    /// <summary>Per-record frame header: u32 payload length, u32 CRC-32C of the payload.</summary>
    public const int FrameHeaderSize = 8;

    /// <summary>The file format version this code writes and reads.</summary>
    public const ushort Version = 1;

    /// <summary>Largest payload accepted; a larger length field means corruption, and it bounds the reader's buffer.</summary>
    public const int MaxPayloadSize = 1 << 20;

    /// <summary>The four magic bytes that open a record file.</summary>
    public static ReadOnlySpan<byte> Magic => "ESRF"u8;

}
