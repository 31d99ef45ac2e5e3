using System.Buffers.Binary;
using EdgeSelector.Storage.Impressions;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>The impression log's appender ring on its own: framing across laps, full, many producers, no allocation.</summary>
public sealed class AppendRingTests
{
    [Fact]
    public void TryWrite_VaryingSizesOverManyLaps_ReadBackWholeAndInOrder()
    {
        var ring = new AppendRing(1024);
        var record = new byte[ring.MaxRecordBytes];
        ulong written = 0;
        ulong read = 0;
        var random = new Random(12);

        // Sizes 8..300 (frames 16..312 bytes) never divide the ring evenly: frames are padded at its end on most laps.
        for (var round = 0; round < 5_000; round++)
        {
            written = WriteNumbered(ring, record, written, random.Next(1, 6));

            var take = random.Next(1, 6);
            for (var i = 0; i < take && ring.TryPeek(out var entry); i++)
            {
                Assert.Equal(SizeOf(read), entry.Length);
                Assert.True(Check(entry, read), $"record {read} is damaged");
                ring.Release();
                read++;
            }
        }

        while (ring.TryPeek(out var rest))
        {
            Assert.True(Check(rest, read), $"record {read} is damaged");
            ring.Release();
            read++;
        }

        Assert.Equal(written, read);
        Assert.True(ring.Tail > 200 * 1024, $"only {ring.Tail} bytes went through: too few laps");
        Assert.Equal(0, ring.Depth);
    }

    [Fact]
    public void TryPeekAt_RunsOverManyLaps_ReadBackWholeAndInOrder_ReleaseToFreesTheirSpace()
    {
        var ring = new AppendRing(1024);
        var record = new byte[ring.MaxRecordBytes];
        ulong written = 0;
        ulong read = 0;
        var random = new Random(13);

        // As the appender takes them: a run of up to `take` records from the head, then one release for all of them.
        for (var round = 0; round < 5_000; round++)
        {
            written = WriteNumbered(ring, record, written, random.Next(1, 8));

            var take = random.Next(1, 8);
            var position = ring.Head;
            var taken = 0;
            while (taken < take && ring.TryPeekAt(ref position, out var offset, out var length))
            {
                Assert.Equal(SizeOf(read), length);
                Assert.True(Check(ring.Record(offset, length), read), $"record {read} is damaged");
                Assert.True(position <= ring.Tail);
                taken++;
                read++;
            }

            if (taken > 0)
            {
                ring.ReleaseTo(position);
                Assert.Equal(position, ring.Head);
            }
            else
            {
                Assert.Equal(ring.Head, position);
            }
        }

        var end = ring.Head;
        while (ring.TryPeekAt(ref end, out var offset, out var length))
        {
            Assert.True(Check(ring.Record(offset, length), read), $"record {read} is damaged");
            read++;
        }

        if (end != ring.Head)
        {
            ring.ReleaseTo(end);
        }

        Assert.Equal(written, read);
        Assert.True(ring.Tail > 200 * 1024, $"only {ring.Tail} bytes went through: too few laps");
        Assert.Equal(0, ring.Depth);
        Assert.False(ring.TryPeek(out _));
    }

    [Fact]
    public void ReleaseTo_OutsideThePeekedRecords_Throws()
    {
        var ring = new AppendRing(1024);
        Assert.Throws<InvalidOperationException>(() => ring.ReleaseTo(ring.Head));
        Assert.True(ring.TryWrite(new byte[16], out _));
        Assert.Throws<InvalidOperationException>(() => ring.ReleaseTo(ring.Head + ring.Capacity + 8));
        var position = ring.Head;
        Assert.True(ring.TryPeekAt(ref position, out _, out var length));
        Assert.Equal(16, length);
        Assert.False(ring.TryPeekAt(ref position, out _, out _));
        ring.ReleaseTo(position);
        Assert.Equal(0, ring.Depth);
    }

    [Fact]
    public void TryWrite_WhenFull_ReturnsFalseAndWritesNothing_ThenTakesAgainOnceRead()
    {
        var ring = new AppendRing(4096);
        var record = new byte[100]; // frames of 112 bytes
        ulong written = 0;
        while (true)
        {
            Fill(record, written);
            if (!ring.TryWrite(record, out var depth))
            {
                break;
            }

            Assert.True(depth > 0 && depth <= ring.Capacity);
            written++;
            Assert.True(written < 1_000, "the ring never filled");
        }

        Assert.Equal(4096 / 112, (int)written);
        var tail = ring.Tail;
        Fill(record, written);
        Assert.False(ring.TryWrite(record, out _));
        Assert.Equal(tail, ring.Tail);

        Assert.True(ring.TryPeek(out var first));
        Assert.True(Check(first, 0));
        ring.Release();
        Assert.True(ring.TryWrite(record, out _)); // one frame freed: one fits again (after padding to the end)

        ulong read = 1;
        while (ring.TryPeek(out var entry))
        {
            Assert.True(Check(entry, read), $"record {read} is damaged");
            ring.Release();
            read++;
        }

        Assert.Equal(written + 1, read);
    }

    [Fact]
    public void TryWrite_EmptyOrLargerThanHalfTheRing_Refused()
    {
        var ring = new AppendRing(1024);
        Assert.Equal(504, ring.MaxRecordBytes);
        Assert.False(ring.TryWrite([], out _));
        Assert.False(ring.TryWrite(new byte[505], out _));
        Assert.True(ring.TryWrite(new byte[504], out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AppendRing(1000));
    }

    [Fact]
    public void TryWrite_FromFourProducers_EveryRecordReadOnceInEachProducersOrder()
    {
        const int Producers = 4;
        const int PerProducer = 50_000;
        var ring = new AppendRing(16 << 10);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var producers = Enumerable.Range(0, Producers).Select(p => new Thread(() =>
        {
            var record = new byte[64];
            for (var i = 0; i < PerProducer; i++)
            {
                var length = 12 + (i % 50);
                BinaryPrimitives.WriteInt32LittleEndian(record, p);
                BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(4), i);
                while (!ring.TryWrite(record.AsSpan(0, length), out _) && DateTime.UtcNow < deadline)
                {
                    Thread.Yield(); // full: the consumer catches up
                }
            }
        })).ToArray();
        foreach (var producer in producers)
        {
            producer.Start();
        }

        var next = new long[Producers];
        var errors = new List<string>();
        var total = 0;
        while (total < Producers * PerProducer && DateTime.UtcNow < deadline && errors.Count == 0)
        {
            if (!ring.TryPeek(out var entry))
            {
                Thread.Yield();
                continue;
            }

            var p = BinaryPrimitives.ReadInt32LittleEndian(entry);
            var i = BinaryPrimitives.ReadInt64LittleEndian(entry[4..]);
            if ((uint)p >= Producers || i != next[p] || entry.Length != 12 + (i % 50))
            {
                errors.Add($"record {total}: producer {p}, sequence {i}, {entry.Length} bytes; expected sequence {(p is >= 0 and < Producers ? next[p] : -1)}");
            }
            else
            {
                next[p]++;
            }

            ring.Release();
            total++;
        }

        foreach (var producer in producers)
        {
            producer.Join(TimeSpan.FromSeconds(10));
        }

        Assert.Empty(errors);
        Assert.All(next, n => Assert.Equal(PerProducer, n));
        Assert.False(ring.TryPeek(out _));
    }

    [Fact]
    public void TryWrite_ManyRecords_AllocatesNothing()
    {
        var ring = new AppendRing(64 << 10);
        Span<byte> record = stackalloc byte[600];
        Run(ring, record, 1_000); // warm up (JIT)

        var before = GC.GetAllocatedBytesForCurrentThread();
        Run(ring, record, 100_000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        static void Run(AppendRing ring, Span<byte> record, int count)
        {
            for (var i = 0; i < count; i++)
            {
                var length = 100 + (i % 500);
                Fill(record[..length], (ulong)i);
                Assert.True(ring.TryWrite(record[..length], out _));
                Assert.True(ring.TryPeek(out var entry));
                Assert.True(Check(entry, (ulong)i));
                ring.Release();
            }
        }
    }

    // Writes up to `count` numbered records from sequence `written` on (fewer if the ring fills: read some first);
    // returns the next sequence number.
    private static ulong WriteNumbered(AppendRing ring, byte[] record, ulong written, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var length = SizeOf(written);
            Fill(record.AsSpan(0, length), written);
            if (!ring.TryWrite(record.AsSpan(0, length), out _))
            {
                break;
            }

            written++;
        }

        return written;
    }

    private static int SizeOf(ulong sequence) => 8 + (int)(sequence * 37 % 293);

    private static void Fill(Span<byte> record, ulong sequence)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(record, sequence);
        for (var i = 8; i < record.Length; i++)
        {
            record[i] = (byte)(sequence + (ulong)i);
        }
    }

    private static bool Check(ReadOnlySpan<byte> record, ulong sequence)
    {
        if (record.Length < 8 || BinaryPrimitives.ReadUInt64LittleEndian(record) != sequence)
        {
            return false;
        }

        for (var i = 8; i < record.Length; i++)
        {
            if (record[i] != (byte)(sequence + (ulong)i))
            {
                return false;
            }
        }

        return true;
    }
}
