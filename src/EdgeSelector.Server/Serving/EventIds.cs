namespace EdgeSelector.Server.Serving;

/// <summary>
/// Issues 64-bit event ids that are unique across a fleet without coordination:
/// <c>node (12 bits) | sequence (52 bits)</c>, where the sequence starts at <c>seconds since 2020-01-01 &lt;&lt; 20</c>
/// when the node starts and counts up by one per impression (a page reserves its titles' ids together, consecutive).
/// Ids stay unique across restarts as long as a node's average rate since its start is below 2^20 ≈ 1M impressions
/// per second; the top bits of the sequence then give the issuing second, or a later one (docs/protocol.md,
/// "Event ids and tags").
/// </summary>
internal sealed class EventIds
{
    /// <summary>Unix time of the epoch of event ids (2020-01-01T00:00:00Z), in seconds.</summary>
    public const long EpochUnixSeconds = 1_577_836_800;

    private readonly ulong _node;
    private long _sequence;

    public EventIds(int nodeId, long nowUnixMs)
    {
        _node = (ulong)(nodeId & 0xFFF) << 52;
        _sequence = Math.Max(0, (nowUnixMs / 1000) - EpochUnixSeconds) << 20;
    }

    /// <summary>The next id.</summary>
    public ulong Next() => Reserve(1);

    /// <summary>
    /// Reserves <paramref name="count"/> consecutive ids with one atomic add (one reservation per page: title i of the
    /// page gets the returned id + i) and returns the first.
    /// </summary>
    public ulong Reserve(int count)
    {
        var last = Interlocked.Add(ref _sequence, count);
        return _node | ((ulong)(last - count + 1) & ((1UL << 52) - 1));
    }

    /// <summary>The node that issued an id.</summary>
    public static int Node(ulong eventId) => (int)(eventId >> 52);

    /// <summary>The earliest unix time (ms) the id can have been issued at: its sequence's second (or a later one).</summary>
    public static long ApproximateUnixMs(ulong eventId) => (((long)(eventId & ((1UL << 52) - 1)) >> 20) + EpochUnixSeconds) * 1000;
}
