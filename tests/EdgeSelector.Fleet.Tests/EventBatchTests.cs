using EdgeSelector.Fleet.Events;

namespace EdgeSelector.Fleet.Tests;

/// <summary>The packed message format (record-file frames) without a server.</summary>
public sealed class EventBatchTests
{
    [Fact]
    public void ForEach_PackedEntries_ComeBackInOrderWithTheirBytes()
    {
        using var batch = new EventBatch(64);
        var entries = Enumerable.Range(0, 50).Select(i => Enumerable.Range(0, i * 7).Select(b => (byte)(b ^ i)).ToArray()).ToList();
        long address = 64;
        foreach (var e in entries)
        {
            batch.Add(e, address, address + 8 + e.Length);
            address += 8 + e.Length;
        }

        Assert.Equal(50, batch.Count);
        Assert.Equal(64, batch.FirstAddress);
        Assert.Equal(address, batch.NextAddress);
        var collector = new Collector([]);
        Assert.Equal(50, EventBatch.ForEach(batch.Payload.Span, ref collector));
        Assert.Equal(entries, collector.Entries);
    }

    [Fact]
    public void ForEach_FlippedByteOrCutShort_NamesTheOffset()
    {
        using var batch = new EventBatch(64);
        batch.Add([1, 2, 3, 4], 64, 72);
        batch.Add([5, 6, 7, 8], 72, 80);
        var bytes = batch.Payload.ToArray();
        bytes[^1] ^= 0x10;
        var collector = new Collector([]);
        var flipped = Assert.Throws<InvalidDataException>(() => EventBatch.ForEach(bytes, ref collector));
        Assert.Contains("checksum mismatch in frame 1", flipped.Message, StringComparison.Ordinal);
        var cut = Assert.Throws<InvalidDataException>(() => EventBatch.ForEach(batch.Payload.Span[..^2], ref collector));
        Assert.Contains("byte 12", cut.Message, StringComparison.Ordinal);
    }

    private readonly struct Collector(List<byte[]> entries) : IEntryConsumer
    {
        public List<byte[]> Entries => entries;

        public void Consume(ReadOnlySpan<byte> entry) => entries.Add(entry.ToArray());
    }
}
