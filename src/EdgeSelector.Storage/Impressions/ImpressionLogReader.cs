using FASTER.core;

namespace EdgeSelector.Storage.Impressions;

/// <summary>
/// Reads committed entries of an <see cref="ImpressionLog"/> in order while the writer keeps appending, and
/// persists how far it has been acknowledged. One consumer per reader; not thread-safe. Owned by the log, which
/// closes it on dispose.
/// </summary>
public sealed class ImpressionLogReader
{
    private readonly ImpressionLog _log;
    private readonly FasterLogScanIterator _iterator;

    internal ImpressionLogReader(ImpressionLog log, FasterLogScanIterator iterator)
    {
        _log = log;
        _iterator = iterator;
    }

    /// <summary>Address of the next entry this reader will return.</summary>
    public long NextAddress => _iterator.NextAddress;

    /// <summary>How far this reader has acknowledged (restored on reopen once a commit persisted it).</summary>
    public long AcknowledgedUntil => _iterator.CompletedUntilAddress;

    /// <summary>True when rotation never drops what this reader has not acknowledged (see <see cref="ImpressionLog.OpenReader"/>).</summary>
    public bool HoldsRetention { get; internal set; }

    /// <summary>Hands the next committed entry to <paramref name="consumer"/>; false if the reader is at the committed tail.</summary>
    public bool TryReadNext<TConsumer>(TConsumer consumer)
        where TConsumer : IImpressionConsumer =>
        _iterator.TryConsumeNext(new Adapter<TConsumer>(consumer));

    /// <summary>Completes with true when more committed entries are available, false if the log is closing.</summary>
    public ValueTask<bool> WaitAsync(CancellationToken cancellationToken = default) => _iterator.WaitAsync(cancellationToken);

    /// <summary>
    /// Marks everything before <paramref name="nextAddress"/> as consumed; persisted by the next group commit, so after
    /// a crash a reader may see entries it had acknowledged in the last few milliseconds again (at-least-once).
    /// </summary>
    public void Acknowledge(long nextAddress)
    {
        _iterator.CompleteUntil(nextAddress);
        _log.MarkIteratorsChanged();
    }

    internal void Close() => _iterator.Dispose();

    private readonly struct Adapter<TConsumer>(TConsumer consumer) : ILogEntryConsumer
        where TConsumer : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> entry, long currentAddress, long nextAddress) =>
            consumer.Consume(entry, currentAddress, nextAddress);
    }
}
