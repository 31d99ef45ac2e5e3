using System.Buffers.Binary;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Learning.Logging;

/// <summary>
/// Streams the records of a record file with bounded memory (a buffer of at most one maximal frame): each payload is
/// returned as a span into that buffer, valid until the next read.
/// </summary>
public sealed class RecordFileReader : IDisposable
{
    private readonly Stream _stream;
    private byte[] _buffer = new byte[1 << 16];
    private int _start;
    private int _end;
    private long _offsetOfStart;

    /// <summary>Opens <paramref name="path"/> and checks its header.</summary>
    public RecordFileReader(string path)
        : this(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan))
    {
    }

    /// <summary>Reads from <paramref name="stream"/>, which the reader then owns, and checks the header.</summary>
    public RecordFileReader(Stream stream)
    {
        _stream = stream;
        if (!Fill(RecordFileFormat.HeaderSize)
            || !_buffer.AsSpan(0, 4).SequenceEqual(RecordFileFormat.Magic))
        {
            _stream.Dispose();
            throw new InvalidDataException("Not a record file: the \"ESRF\" header is missing.");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(_buffer.AsSpan(4));
        if (version != RecordFileFormat.Version)
        {
            _stream.Dispose();
            throw new InvalidDataException($"Record file format version {version} is not supported (expected {RecordFileFormat.Version}).");
        }

        Consume(RecordFileFormat.HeaderSize);
    }

    /// <summary>True once a read found a frame cut short at the end of the file (a writer stopped mid-append).</summary>
    public bool TornTail { get; private set; }

    /// <summary>Records returned so far.</summary>
    public long Count { get; private set; }

    /// <summary>
    /// Reads the next payload; false at the end of the file (see <see cref="TornTail"/>). Throws
    /// <see cref="InvalidDataException"/> naming the byte offset when a frame fails its checksum or length check.
    /// </summary>
    public bool TryRead(out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (!Fill(RecordFileFormat.FrameHeaderSize))
        {
            TornTail = _end > _start;
            return false;
        }

        var header = _buffer.AsSpan(_start, RecordFileFormat.FrameHeaderSize);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (length > RecordFileFormat.MaxPayloadSize)
        {
            throw new InvalidDataException($"Record file corrupt at byte {_offsetOfStart}: frame length {length} exceeds the maximum.");
        }

        var frameSize = RecordFileFormat.FrameHeaderSize + (int)length;
        if (!Fill(frameSize))
        {
            TornTail = true;
            return false;
        }

        var body = _buffer.AsSpan(_start + RecordFileFormat.FrameHeaderSize, (int)length);
        if (Crc32C.Compute(body) != crc)
        {
            throw new InvalidDataException($"Record file corrupt at byte {_offsetOfStart}: checksum mismatch in record {Count}.");
        }

        payload = body;
        Consume(frameSize);
        Count++;
        return true;
    }

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();

    private void Consume(int count)
    {
        _start += count;
        _offsetOfStart += count;
    }

    // Makes at least `count` bytes available from _start; false when the stream ends first.
    private bool Fill(int count)
    {
        if (_end - _start >= count)
        {
            return true;
        }

        if (_buffer.Length < count)
        {
            Array.Resize(ref _buffer, Math.Max(count, _buffer.Length * 2));
        }

        if (_start + count > _buffer.Length)
        {
            // Compact: payload spans returned earlier are documented as invalid after the next read.
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        while (_end - _start < count)
        {
            var read = _stream.Read(_buffer, _end, _buffer.Length - _end);
            if (read == 0)
            {
                return false;
            }

            _end += read;
        }

        return true;
    }
}
