using System.Buffers.Binary;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Learning.Logging;

/// <summary>Appends length-prefixed, CRC-32C-checked records to a record file through a buffered stream.</summary>
public sealed class RecordFileWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly byte[] _scratch = new byte[ImpressionPage.SizeOf(1)];

    /// <summary>Creates (or truncates) <paramref name="path"/> and writes the file header.</summary>
    public RecordFileWriter(string path)
        : this(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16))
    {
    }

    /// <summary>Writes the file header to <paramref name="stream"/>, which the writer then owns.</summary>
    public RecordFileWriter(Stream stream)
    {
        _stream = stream;
        Span<byte> header = stackalloc byte[RecordFileFormat.HeaderSize];
        RecordFileFormat.Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], RecordFileFormat.Version);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 0);
        _stream.Write(header);
    }

    /// <summary>Number of records appended so far.</summary>
    public long Count { get; private set; }

    /// <summary>Appends one opaque payload as a frame.</summary>
    public void Append(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > RecordFileFormat.MaxPayloadSize)
        {
            throw new ArgumentException($"Payload of {payload.Length} bytes exceeds {RecordFileFormat.MaxPayloadSize}.", nameof(payload));
        }

        Span<byte> frame = stackalloc byte[RecordFileFormat.FrameHeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[4..], Crc32C.Compute(payload));
        _stream.Write(frame);
        _stream.Write(payload);
        Count++;
    }

    /// <summary>
    /// Encodes and appends an impression as a page entry of one title (the layout the server logs;
    /// docs/impression-log.md). Readers take it back with <see cref="ImpressionEntry.TryRead"/>.
    /// </summary>
    public void Append(in ImpressionRecord record)
    {
        var written = ImpressionPageWriter.WriteSingle(_scratch, record);
        Append(_scratch.AsSpan(0, written));
    }

    /// <summary>Encodes and appends a reward.</summary>
    public void Append(in RewardRecord record)
    {
        var payload = _scratch.AsSpan(0, RewardRecord.Size);
        record.Write(payload);
        Append(payload);
    }

    /// <summary>Flushes buffered frames to the operating system.</summary>
    public void Flush() => _stream.Flush();

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();
}
