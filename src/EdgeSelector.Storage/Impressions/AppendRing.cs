using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeSelector.Storage.Impressions;

/// <summary>
/// A bounded, lock-free byte ring with many producers and one consumer: how the serving threads hand impression
/// entries to the log's appender thread without entering FasterLog's epoch (docs/storage.md, "The appender ring").
/// </summary>
/// <remarks>
/// Positions are byte counts that only grow; position <c>p</c> lives at <c>p &amp; mask</c>. A producer reserves a
/// frame by moving <c>_tail</c> with one compare-and-swap, copies its record behind an 8-byte header and then publishes
/// the header (the record's length); until then the header reads 0 and the consumer waits there. A frame that would
/// cross the end of the buffer is preceded by a padding frame (negative length) to the end. The consumer clears each
/// frame it has taken before moving <c>_head</c> past it, so a header the producers have not published yet always
/// reads 0. Full is refused (<see cref="TryWrite"/> returns false), never waited for. No allocation after the
/// constructor (<c>AppendRingTests.TryWrite_ManyRecords_AllocatesNothing</c>).
/// </remarks>
internal sealed class AppendRing
{
    /// <summary>Bytes in front of each record: its length, then 4 reserved bytes; frames are 8-byte aligned.</summary>
    public const int HeaderBytes = 8;

    private readonly byte[] _buffer;
    private readonly int _mask;
    private Padded _tail;
    private Padded _head;
    private Padded _headCache;

    /// <summary>A ring of <paramref name="capacity"/> bytes (a power of two, at least 64).</summary>
    public AppendRing(int capacity)
    {
        if (capacity < 64 || (capacity & (capacity - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "A power of two of at least 64 bytes.");
        }

        _buffer = new byte[capacity]; // zeroed: every header reads "not published"
        _mask = capacity - 1;
    }

    /// <summary>Bytes of the buffer.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>The largest record that always fits into an empty ring (a frame and its worst-case padding).</summary>
    public int MaxRecordBytes => (_buffer.Length / 2) - HeaderBytes;

    /// <summary>Position after the last reserved frame (records published or being copied).</summary>
    public long Tail => Volatile.Read(ref _tail.Value);

    /// <summary>Position of the first frame the consumer has not released.</summary>
    public long Head => Volatile.Read(ref _head.Value);

    /// <summary>Bytes reserved and not yet released by the consumer (0 when everything written was taken).</summary>
    /// <remarks>Tail is read before head: a depth of 0 means every record written before the call has been released.</remarks>
    public long Depth
    {
        get
        {
            var tail = Tail;
            return Math.Max(0, tail - Head);
        }
    }

    /// <summary>
    /// Copies <paramref name="record"/> into the ring; false (nothing written) if it is empty, larger than
    /// <see cref="MaxRecordBytes"/>, or the ring has no room. <paramref name="depth"/> is the ring's depth as this
    /// producer saw it after its reservation (a hint for waking the consumer). Lock-free; allocates nothing.
    /// </summary>
    public bool TryWrite(ReadOnlySpan<byte> record, out long depth)
    {
        depth = 0;
        if (record.IsEmpty || record.Length > MaxRecordBytes)
        {
            return false;
        }

        int frame = FrameBytes(record.Length);
        int capacity = _buffer.Length;
        long tail;
        long need;
        int index;
        do
        {
            tail = Volatile.Read(ref _tail.Value);
            long head = Volatile.Read(ref _headCache.Value);
            index = (int)(tail & _mask);
            int toEnd = capacity - index;
            need = frame <= toEnd ? frame : toEnd + frame;
            if (tail + need - head > capacity)
            {
                head = Volatile.Read(ref _head.Value);
                if (tail + need - head > capacity)
                {
                    return false;
                }

                Volatile.Write(ref _headCache.Value, head);
            }

            depth = tail + need - head;
        }
        while (Interlocked.CompareExchange(ref _tail.Value, tail + need, tail) != tail);

        if (need != frame)
        {
            // Pad to the end of the buffer; the record starts the next lap at index 0.
            Volatile.Write(ref Header(index), -(capacity - index));
            index = 0;
        }

        record.CopyTo(_buffer.AsSpan(index + HeaderBytes));
        Volatile.Write(ref Header(index), record.Length); // publish: the copy above is visible before the length
        return true;
    }

    /// <summary>
    /// Consumer only: the next published record, in the ring (valid until <see cref="Release"/>); false if the ring is
    /// empty or the next frame is still being copied. Padding frames are released on the way.
    /// </summary>
    public bool TryPeek(out ReadOnlySpan<byte> record)
    {
        while (true)
        {
            long head = _head.Value; // only the consumer writes it
            int index = (int)(head & _mask);
            int length = Volatile.Read(ref Header(index));
            if (length > 0)
            {
                record = new ReadOnlySpan<byte>(_buffer, index + HeaderBytes, length);
                return true;
            }

            if (length == 0)
            {
                record = default;
                return false;
            }

            ReleaseFrame(head, index, -length);
        }
    }

    /// <summary>Consumer only: clears the record <see cref="TryPeek"/> returned and gives its space back to the producers.</summary>
    public void Release()
    {
        long head = _head.Value;
        int index = (int)(head & _mask);
        int length = Volatile.Read(ref Header(index));
        if (length <= 0)
        {
            throw new InvalidOperationException("Release without a peeked record.");
        }

        ReleaseFrame(head, index, FrameBytes(length));
    }

    /// <summary>
    /// Consumer only: the published record at or after <paramref name="position"/> (a frame boundary at or after
    /// <see cref="Head"/>: <see cref="Head"/> itself, or where the previous call left it), as its
    /// <paramref name="offset"/> and <paramref name="length"/> in the buffer (<see cref="Record"/>; valid until
    /// <see cref="ReleaseTo"/> passes it); <paramref name="position"/> moves past its frame (and any padding before it).
    /// False if no published record is there yet (the ring is empty from there on, or the next frame is being copied).
    /// Nothing is released: the appender reads a run of records this way, appends them together, then releases them.
    /// </summary>
    public bool TryPeekAt(ref long position, out int offset, out int length)
    {
        var at = position;
        // A whole capacity past the head is the head's own index again (a full ring's tail): nothing more to read there.
        long end = _head.Value + _buffer.Length;
        while (true)
        {
            if (at >= end)
            {
                offset = 0;
                length = 0;
                return false;
            }

            int index = (int)(at & _mask);
            length = Volatile.Read(ref Header(index));
            if (length > 0)
            {
                offset = index + HeaderBytes;
                position = at + FrameBytes(length);
                return true;
            }

            if (length == 0)
            {
                offset = 0;
                return false;
            }

            at += -length; // padding to the end of the buffer
        }
    }

    /// <summary>Consumer only: the bytes of a record <see cref="TryPeekAt"/> found (valid until it is released).</summary>
    public ReadOnlySpan<byte> Record(int offset, int length) => new(_buffer, offset, length);

    /// <summary>
    /// Consumer only: clears every frame from <see cref="Head"/> to <paramref name="position"/> (a position
    /// <see cref="TryPeekAt"/> returned) and gives their space back to the producers, as <see cref="Release"/> does
    /// one by one.
    /// </summary>
    public void ReleaseTo(long position)
    {
        long head = _head.Value;
        long bytes = position - head;
        if (bytes <= 0 || bytes > _buffer.Length)
        {
            throw new InvalidOperationException("ReleaseTo outside the peeked records.");
        }

        // Cleared before the head moves (a release write): a producer that sees the new head sees zeroed headers. The
        // run crosses the end of the buffer at most once (it is at most one capacity long).
        int index = (int)(head & _mask);
        int first = (int)Math.Min(bytes, _buffer.Length - index);
        Zero(_buffer.AsSpan(index, first));
        if (first < bytes)
        {
            Zero(_buffer.AsSpan(0, (int)(bytes - first)));
        }

        Volatile.Write(ref _head.Value, position);
    }

    // Clears whole frames (multiples of 8 bytes) with 32-byte stores. Span.Clear hands a run of several KB to the C
    // library's memset, whose `rep stosb` callgrind counts byte by byte (~150 instructions per 144-byte record), and
    // frame by frame it costs a call per frame; a plain store loop is ~14 per record either way.
    private static void Zero(Span<byte> frames)
    {
        ref byte start = ref MemoryMarshal.GetReference(frames);
        int length = frames.Length;
        int i = 0;
        for (; i + 32 <= length; i += 32)
        {
            Vector256<byte>.Zero.StoreUnsafe(ref start, (nuint)i);
        }

        for (; i < length; i += 8)
        {
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref start, i), 0L);
        }
    }

    private static int FrameBytes(int length) => (HeaderBytes + length + 7) & ~7;

    private void ReleaseFrame(long head, int index, int frame)
    {
        // Cleared before the head moves (a release write): a producer that sees the new head sees zeroed headers.
        _buffer.AsSpan(index, frame).Clear();
        Volatile.Write(ref _head.Value, head + frame);
    }

    // Frames start at multiples of 8 and the array's data is 8-byte aligned, so the length is an aligned int.
    private ref int Header(int index) => ref Unsafe.As<byte, int>(ref _buffer[index]);

    // One cache line each for tail, head and the producers' cached head, so that they do not bounce together.
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct Padded
    {
        [FieldOffset(64)]
        public long Value;
    }
}
