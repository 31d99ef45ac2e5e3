using System.Buffers.Binary;
using System.Collections.Frozen;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// Every title's default image, from every bundle this node has applied (a title a later bundle drops keeps its
/// default: SELECT then answers it with reason "no model"). Read lock-free on the hot path; replaced whole on a
/// push; persisted beside the stores so a restart knows the defaults before any push.
/// </summary>
internal sealed class DefaultImages
{
    private readonly string _path;
    private FrozenDictionary<uint, uint> _map = FrozenDictionary<uint, uint>.Empty;

    public DefaultImages(string dataDir)
    {
        _path = Path.Combine(dataDir, "default-images.bin");
        if (File.Exists(_path))
        {
            var bytes = File.ReadAllBytes(_path);
            var map = new Dictionary<uint, uint>();
            for (var i = 0; i + 8 <= bytes.Length; i += 8)
            {
                map[BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(i))] = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(i + 4));
            }

            _map = map.ToFrozenDictionary();
        }
    }

    /// <summary>Number of titles with a known default.</summary>
    public int Count => _map.Count;

    /// <summary>The default image of a title, if known.</summary>
    public bool TryGet(uint titleId, out uint imageId) => Volatile.Read(ref _map).TryGetValue(titleId, out imageId);

    /// <summary>Merges new defaults in and persists the result (write to a temporary file, then rename).</summary>
    public void Merge(IEnumerable<KeyValuePair<uint, uint>> defaults)
    {
        var map = new Dictionary<uint, uint>(_map);
        foreach (var (title, image) in defaults)
        {
            map[title] = image;
        }

        var bytes = new byte[map.Count * 8];
        var i = 0;
        foreach (var (title, image) in map)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i), title);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i + 4), image);
            i += 8;
        }

        var temp = _path + ".tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, _path, overwrite: true);
        Volatile.Write(ref _map, map.ToFrozenDictionary());
    }
}
