namespace EdgeSelector.Storage.Impressions;

/// <summary>
/// Receives one log entry in place (the span points into the log's buffer and is valid only during the call).
/// Passed by value, as FASTER does: a struct consumer keeps results in an object it references.
/// </summary>
public interface IImpressionConsumer
{
    /// <summary>Called with an entry, its address, and the address of the entry after it (what to acknowledge).</summary>
    void Consume(ReadOnlySpan<byte> record, long address, long nextAddress);
}
