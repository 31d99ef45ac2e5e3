using System.Buffers.Binary;
using EdgeSelector.Core.Logging;
using EdgeSelector.Learning.Join;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary>
/// The fleet trainer's memory of what it has taken, by event id (docs/fleet.md, "Exactly once to the trainer"): an
/// impression is taken once per event id, a reward once per (event id, timestamp). Redeliveries (a crash before the
/// trainer acknowledged) and re-shipped batches (a node crashed before its position was persisted) are dropped here.
/// Kept in a file between runs; an id leaves once the streams can no longer hold it (its issue time is older than the
/// retention horizon).
/// </summary>
internal sealed class EventDedupe
{
    private static ReadOnlySpan<byte> Magic => "ESDD"u8;

    private readonly HashSet<ulong> _impressions = [];
    private readonly HashSet<(ulong EventId, long TimestampMs)> _rewards = [];

    /// <summary>Impressions dropped as already taken.</summary>
    public long DuplicateImpressions { get; private set; }

    /// <summary>Rewards dropped as already taken.</summary>
    public long DuplicateRewards { get; private set; }

    /// <summary>Ids remembered.</summary>
    public int Count => _impressions.Count + _rewards.Count;

    /// <summary>True the first time an impression's event id is seen.</summary>
    public bool TakeImpression(in ImpressionRecord impression)
    {
        if (_impressions.Add(impression.EventId))
        {
            return true;
        }

        DuplicateImpressions++;
        return false;
    }

    /// <summary>True the first time a reward (event id, timestamp) is seen.</summary>
    public bool TakeReward(in RewardRecord reward)
    {
        if (_rewards.Add((reward.EventId, reward.TimestampMs)))
        {
            return true;
        }

        DuplicateRewards++;
        return false;
    }

    /// <summary>Forgets ids issued before <paramref name="horizonUnixMs"/>: no stream still holds them.</summary>
    public void Prune(long horizonUnixMs)
    {
        _impressions.RemoveWhere(id => RewardJoiner.IssuedUnixMs(id) < horizonUnixMs);
        _rewards.RemoveWhere(r => RewardJoiner.IssuedUnixMs(r.EventId) < horizonUnixMs);
    }

    /// <summary>Loads <paramref name="path"/> (nothing when it does not exist).</summary>
    public static EventDedupe Load(string path)
    {
        var dedupe = new EventDedupe();
        if (!File.Exists(path))
        {
            return dedupe;
        }

        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 20 || !bytes.AsSpan(0, 4).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{path}: not a trainer de-duplication file");
        }

        var impressions = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(4));
        var rewards = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(12));
        if (impressions < 0 || rewards < 0 || 20 + (impressions * 8) + (rewards * 16) != bytes.Length)
        {
            throw new InvalidDataException($"{path}: truncated or corrupt ({bytes.Length} bytes for {impressions} + {rewards} ids)");
        }

        var pos = 20;
        for (var i = 0; i < impressions; i++, pos += 8)
        {
            dedupe._impressions.Add(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(pos)));
        }

        for (var i = 0; i < rewards; i++, pos += 16)
        {
            dedupe._rewards.Add((BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(pos)), BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(pos + 8))));
        }

        return dedupe;
    }

    /// <summary>Writes the ids to <paramref name="path"/> (a temporary file, flushed to disk, then renamed).</summary>
    public void Save(string path)
    {
        var bytes = new byte[20 + (_impressions.Count * 8) + (_rewards.Count * 16)];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(4), _impressions.Count);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(12), _rewards.Count);
        var pos = 20;
        foreach (var id in _impressions)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(pos), id);
            pos += 8;
        }

        foreach (var (id, ts) in _rewards)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(pos), id);
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(pos + 8), ts);
            pos += 16;
        }

        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }
}
