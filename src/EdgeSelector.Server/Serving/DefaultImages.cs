using System.Buffers.Binary;
using System.Collections.Frozen;
using EdgeSelector.Storage.Models;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// Every title's default image, from every bundle this node has applied (a title a later bundle drops keeps its
/// default: SELECT then answers it with reason "no model"). Read lock-free on the hot path; replaced whole when the
/// model store publishes a change. One place: the map lives in the model store (metadata slot <see cref="Slot"/>),
/// written in the same checkpoint as the bundle it comes from, so it is as durable as the bundle and never ahead of it.
/// </summary>
internal sealed class DefaultImages
{
    /// <summary>The model store's metadata slot holding the map: little-endian (u32 title, u32 image) pairs.</summary>
    public const uint Slot = 2;

    private readonly ModelStore _models;
    private FrozenDictionary<uint, uint> _map = FrozenDictionary<uint, uint>.Empty;

    public DefaultImages(ModelStore models)
    {
        _models = models;
        Refresh();
    }

    /// <summary>Number of titles with a known default.</summary>
    public int Count => Volatile.Read(ref _map).Count;

    /// <summary>The default image of a title, if known.</summary>
    public bool TryGet(uint titleId, out uint imageId) => Volatile.Read(ref _map).TryGetValue(titleId, out imageId);

    /// <summary>Re-reads the map from the model store (after it published a push).</summary>
    public void Refresh()
    {
        if (_models.TryGetMetadata(Slot, out var bytes))
        {
            Volatile.Write(ref _map, Decode(bytes).ToFrozenDictionary());
        }
    }

    /// <summary>The current map with <paramref name="defaults"/> merged in (what a push commits with its bundle).</summary>
    public Dictionary<uint, uint> MergedWith(IEnumerable<KeyValuePair<uint, uint>> defaults)
    {
        var map = new Dictionary<uint, uint>(Volatile.Read(ref _map));
        foreach (var (title, image) in defaults)
        {
            map[title] = image;
        }

        return map;
    }

    /// <summary>The stored form: (u32 title, u32 image) pairs, little-endian.</summary>
    public static byte[] Encode(IReadOnlyDictionary<uint, uint> map)
    {
        var bytes = new byte[map.Count * 8];
        var i = 0;
        foreach (var (title, image) in map)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i), title);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i + 4), image);
            i += 8;
        }

        return bytes;
    }

    /// <summary>Reads the stored form; a trailing partial pair (a damaged file) is ignored.</summary>
    public static Dictionary<uint, uint> Decode(ReadOnlySpan<byte> bytes)
    {
        var map = new Dictionary<uint, uint>(bytes.Length / 8);
        for (var i = 0; i + 8 <= bytes.Length; i += 8)
        {
            map[BinaryPrimitives.ReadUInt32LittleEndian(bytes[i..])] = BinaryPrimitives.ReadUInt32LittleEndian(bytes[(i + 4)..]);
        }

        return map;
    }
}
