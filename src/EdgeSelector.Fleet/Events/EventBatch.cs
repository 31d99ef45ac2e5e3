using System.Buffers;
using System.Buffers.Binary;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Fleet.Events;

/// <summary>
/// Packs log entries, as opaque bytes, into one NATS message in the record-file frame format (docs/impression-log.md,
/// "Record files"; PLAN decision 4): <c>frame := u32 payload length | u32 CRC-32C of the payload | payload</c>,
/// little-endian, frames back to back, no file header. Remembers the log addresses it covers, which name the message.
/// </summary>
public sealed class EventBatch : IDisposable
{
    /// <summary>Bytes of a frame header.</summary>
    public const int FrameHeaderSize = 8;

    private byte[] _buffer;
    private int _length;

    /// <summary>Creates a batch with room for about <paramref name="initialBytes"/> (it grows for one large entry).</summary>
    public EventBatch(int initialBytes) => _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialBytes, 1024));

    /// <summary>Entries packed.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes packed (the message payload size).</summary>
    public int Length => _length;

    /// <summary>Log address of the first entry.</summary>
    public long FirstAddress { get; private set; }

    /// <summary>Log address after the last entry (what the shipper acknowledges once JetStream has the message).</summary>
    public long NextAddress { get; private set; }

    /// <summary>The message payload.</summary>
    public ReadOnlyMemory<byte> Payload => _buffer.AsMemory(0, _length);

    /// <summary>Appends one entry as a frame.</summary>
    public void Add(ReadOnlySpan<byte> entry, long address, long nextAddress)
    {
        var needed = _length + FrameHeaderSize + entry.Length;
        if (needed > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }

        var frame = _buffer.AsSpan(_length);
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)entry.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[4..], Crc32C.Compute(entry));
        entry.CopyTo(frame[FrameHeaderSize..]);
        _length = needed;
        if (Count == 0)
        {
            FirstAddress = address;
        }

        NextAddress = nextAddress;
        Count++;
    }

    /// <summary>Empties the batch for reuse (the buffer is kept).</summary>
    public void Clear()
    {
        _length = 0;
        Count = 0;
        FirstAddress = 0;
        NextAddress = 0;
    }

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    /// <summary>
    /// Hands every frame's payload of a packed message to <paramref name="consumer"/> in order and returns how many there
    /// were; an <see cref="InvalidDataException"/> naming the offset when a frame is cut short or fails its checksum.
    /// </summary>
    public static int ForEach<TConsumer>(ReadOnlySpan<byte> message, ref TConsumer consumer)
        where TConsumer : struct, IEntryConsumer
    {
        var offset = 0;
        var count = 0;
        while (offset < message.Length)
        {
            if (message.Length - offset < FrameHeaderSize)
            {
                throw new InvalidDataException($"event batch cut short at byte {offset}: {message.Length - offset} bytes left, a frame header needs {FrameHeaderSize}");
            }

            var length = BinaryPrimitives.ReadUInt32LittleEndian(message[offset..]);
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(message[(offset + 4)..]);
            if (length > (uint)(message.Length - offset - FrameHeaderSize))
            {
                throw new InvalidDataException($"event batch corrupt at byte {offset}: frame length {length} runs past the message ({message.Length} bytes)");
            }

            var payload = message.Slice(offset + FrameHeaderSize, (int)length);
            if (Crc32C.Compute(payload) != crc)
            {
                throw new InvalidDataException($"event batch corrupt at byte {offset}: checksum mismatch in frame {count}");
            }

            consumer.Consume(payload);
            offset += FrameHeaderSize + (int)length;
            count++;
        }

        return count;
    }
}

/// <summary>Receives the entries of a packed message (the span is valid only during the call).</summary>
public interface IEntryConsumer
{
    /// <summary>Called with one entry's bytes.</summary>
    void Consume(ReadOnlySpan<byte> entry);
}
