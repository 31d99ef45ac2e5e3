using FASTER.core;

namespace EdgeSelector.Storage.Impressions;

/// <summary>Reading the newest committed entries without a reader position (the dashboard's sample of recent decisions).</summary>
public sealed partial class ImpressionLog
{
    /// <summary>
    /// Hands the committed entries from the start of the page holding <c>CommittedUntilAddress - windowBytes</c> up to
    /// <see cref="CommittedUntilAddress"/> to <paramref name="consumer"/>, oldest first, at most
    /// <paramref name="maxEntries"/> of them; returns how many. Nothing is persisted and no named reader moves, so this
    /// can run beside the shippers and the trainer. Off the request path: the writer's appends never wait for it.
    /// </summary>
    /// <remarks>
    /// FasterLog never lets an entry cross a page, so a page start is always an entry boundary (as in
    /// <c>Rotate</c>); the newest pages are in memory, so the scan normally reads no disk.
    /// </remarks>
    public int ReadRecent<TConsumer>(long windowBytes, int maxEntries, TConsumer consumer)
        where TConsumer : IImpressionConsumer
    {
        ArgumentOutOfRangeException.ThrowIfNegative(windowBytes);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var end = _log.CommittedUntilAddress;
        var from = Math.Max(_log.BeginAddress, (end - windowBytes) / _pageBytes * _pageBytes);
        if (from >= end || maxEntries <= 0)
        {
            return 0;
        }

        using var iterator = _log.Scan(from, end, scanUncommitted: false);
        var adapter = new RecentAdapter<TConsumer>(consumer);
        var read = 0;
        while (read < maxEntries && iterator.TryConsumeNext(adapter))
        {
            read++;
        }

        return read;
    }

    private readonly struct RecentAdapter<TConsumer>(TConsumer consumer) : ILogEntryConsumer
        where TConsumer : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> entry, long currentAddress, long nextAddress) =>
            consumer.Consume(entry, currentAddress, nextAddress);
    }
}
