namespace EdgeSelector.Server.Rollout;

/// <summary>
/// A bounded index of this node's recent events (event id → rollout, arm, time) so a reward is joined to its arm in
/// memory, without reading the impression log. Direct-mapped on the event id's sequence: this node issues consecutive
/// ids, so the last <c>capacity</c> events each own a slot and an older one is simply overwritten (its reward then
/// counts as unjoined). Adding is three plain stores (no lock, no allocation); a reward for another node's event, an
/// overwritten one or one from before a restart finds a different id in its slot.
/// </summary>
internal sealed class RecentEvents
{
    private readonly Slot[] _slots;
    private readonly ulong _mask;

    public RecentEvents(int capacity)
    {
        _slots = new Slot[capacity];
        _mask = (ulong)capacity - 1;
    }

    /// <summary>How many events the index holds.</summary>
    public int Capacity => _slots.Length;

    /// <summary>Remembers an event. <paramref name="tag"/> packs the rollout id and the arm.</summary>
    public void Add(ulong eventId, int tag, long unixMs)
    {
        ref var slot = ref _slots[(int)(eventId & _mask)];
        slot.Tag = tag;
        slot.UnixSeconds = (uint)(unixMs / 1000);
        // Published last: a reader that sees the id sees the fields written before it (x64 keeps stores in order; the
        // write is a release on weaker models). A slot is rewritten only `capacity` events later.
        Volatile.Write(ref slot.EventId, eventId);
    }

    /// <summary>The event's tag and time, when the index still holds it.</summary>
    public bool TryGet(ulong eventId, out int tag, out long unixSeconds)
    {
        ref var slot = ref _slots[(int)(eventId & _mask)];
        if (Volatile.Read(ref slot.EventId) != eventId)
        {
            tag = 0;
            unixSeconds = 0;
            return false;
        }

        tag = slot.Tag;
        unixSeconds = slot.UnixSeconds;
        // Re-check after reading the fields: the slot may have been taken by an event `capacity` ids later meanwhile.
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref slot.EventId) == eventId;
    }

    private struct Slot
    {
        public ulong EventId;
        public int Tag;
        public uint UnixSeconds;
    }
}
