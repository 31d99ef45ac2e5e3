using EdgeSelector.Storage.Health;

namespace EdgeSelector.Storage.Impressions;

/// <summary>Configuration of an <see cref="ImpressionLog"/>; validated by <see cref="ImpressionLog.Open"/>.</summary>
public sealed record ImpressionLogOptions
{
    /// <summary>Directory holding the log segments and commit records (created if missing).</summary>
    public required string DataDirectory { get; init; }

    /// <summary>
    /// In-memory log buffer in bytes (power of two). Appends fail (TryEnqueue returns false) only if this much is
    /// waiting to be flushed, i.e. if the disk cannot keep up.
    /// </summary>
    public long MemoryBytes { get; init; } = 64L << 20;

    /// <summary>Log page size in bytes (power of two); an entry must fit in one page.</summary>
    public long PageBytes { get; init; } = 1L << 20;

    /// <summary>Size of each segment file in bytes (power of two); truncation deletes whole segments.</summary>
    public long SegmentBytes { get; init; } = 256L << 20;

    /// <summary>Group commit: the background committer commits at least this often when entries are pending.</summary>
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Group commit: appenders wake the committer early once this many bytes are uncommitted.</summary>
    public long CommitBytes { get; init; } = 1L << 20;

    /// <summary>
    /// Bytes of the appender ring (rounded down to a power of two, at most 1 GiB; 0: none). With a ring,
    /// <see cref="ImpressionLog.TryPost"/> only copies the record into it and one dedicated appender thread appends to
    /// FasterLog, so the posting threads (the server's serving threads) never run FasterLog's epoch work; a full ring
    /// refuses the post. Records larger than half the ring are refused. Without one, TryPost appends on the caller's
    /// thread. Callers that need an entry's address (<see cref="ImpressionLog.TryEnqueue"/>, the reward log) append
    /// directly either way.
    /// </summary>
    public long AppendRingBytes { get; init; }

    /// <summary>
    /// Rotation: once the log holds more than this many bytes, whole segments at its head are dropped (the
    /// committer truncates to the segment boundary at or below tail − RetainBytes; FASTER deletes the files after the
    /// next commit). 0 keeps everything. Readers further behind lose what was dropped (docs/storage.md), except readers
    /// that hold retention (<see cref="RetentionReaders"/>, <see cref="ImpressionLog.OpenReader"/>): rotation never cuts
    /// above what they have acknowledged.
    /// </summary>
    public long RetainBytes { get; init; }

    /// <summary>
    /// Named readers that hold retention from the moment the log opens, before their consumer starts (the fleet's
    /// shipper, <c>fleet-shipper</c>): their persisted positions are restored at open and are a floor under rotation,
    /// so a restart cannot rotate away what was not shipped before the consumer opens its reader again.
    /// </summary>
    public IReadOnlyList<string> RetentionReaders { get; init; } = [];

    /// <summary>The log's name in messages and health reports (default: the directory's name).</summary>
    public string? Name { get; init; }

    /// <summary>What to do when the log's files are damaged at open (docs/reliability.md); default: move them aside and start a new log.</summary>
    public DamagePolicy OnDamage { get; init; } = DamagePolicy.Quarantine;

    /// <summary>
    /// How long <see cref="ImpressionLog.Dispose"/> waits for the final commit; after that it gives up on the disk
    /// (entries not yet durable are lost, as in a crash) so that shutdown is bounded whatever the disk does.
    /// </summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Fault injection for tests (writes fail while set); null in production.</summary>
    public StorageFaults? Faults { get; init; }
}
