using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using EdgeSelector.Core.Models;

namespace EdgeSelector.Core.Bundles;

/// <summary>What a bundle says about itself (docs/bundles.md).</summary>
public sealed record BundleManifest
{
    /// <summary>Bundle version: strictly increasing; a server refuses an older one unless forced.</summary>
    public ulong Version { get; init; }

    /// <summary>The version this bundle was trained from (0 for the first).</summary>
    public ulong ParentVersion { get; init; }

    /// <summary>When the bundle was made (unix ms).</summary>
    public long CreatedAtMs { get; init; }

    /// <summary>Start of the training data's time range (unix ms; 0 when none, e.g. a catalog-only bundle).</summary>
    public long TrainingFromMs { get; init; }

    /// <summary>End of the training data's time range (unix ms).</summary>
    public long TrainingToMs { get; init; }

    /// <summary>True when the bundle holds every title (titles it lacks are removed); false for a delta over the parent.</summary>
    public bool Full { get; init; } = true;

    /// <summary>Free-form metrics of the training run as JSON text (for people and dashboards; the server does not interpret it).</summary>
    public string MetricsJson { get; init; } = "{}";

    /// <summary>The signer's key id, as the bundle names it (set by <see cref="ModelBundle.TryRead"/>; empty for models applied without a bundle).</summary>
    public string KeyId { get; init; } = string.Empty;

    /// <summary>
    /// SHA-256 of the whole bundle file, lowercase hex (set by <see cref="ModelBundle.TryRead"/>): what <c>sha256sum</c> of
    /// the pushed file prints, so a person can tell which file a node serves. Empty for models applied without a bundle.
    /// </summary>
    public string Sha256 { get; init; } = string.Empty;
}

/// <summary>Why a bundle was refused.</summary>
public enum BundleError : byte
{
    /// <summary>Accepted.</summary>
    None = 0,
    /// <summary>Shorter than its own sizes say.</summary>
    Truncated,
    /// <summary>Not a bundle (magic) or an unknown bundle format version.</summary>
    BadFormat,
    /// <summary>No signature.</summary>
    Unsigned,
    /// <summary>The signature does not verify with the configured key.</summary>
    BadSignature,
    /// <summary>A model inside fails its full check (checksum, layout).</summary>
    CorruptModel,
    /// <summary>Two models for the same title.</summary>
    DuplicateTitle,
}

/// <summary>
/// A versioned, signed set of title models: the unit the trainer writes, <c>edgesel push</c> sends and a server
/// applies atomically. Layout (little-endian; docs/bundles.md):
/// <code>
/// u32 magic "ESB1" | u16 format 1 | u16 flags (bit 0 = full)
/// u64 version | u64 parent | i64 created | i64 train_from | i64 train_to
/// u32 metrics_len | metrics UTF-8 JSON
/// u32 model_count | { u32 len | model blob (docs/model-format.md) } × model_count
/// u8 sig_alg (0 none, 1 HMAC-SHA256) | u8 key_id_len | key_id UTF-8 | 32-byte HMAC-SHA256 over every byte before it
/// </code>
/// </summary>
public static class ModelBundle
{
    /// <summary>"ESB1" as a little-endian u32.</summary>
    public const uint Magic = 0x31425345;

    /// <summary>The bundle format version.</summary>
    public const ushort FormatVersion = 1;

    /// <summary>Signature algorithm id of HMAC-SHA256.</summary>
    public const byte HmacSha256 = 1;

    private const int FixedHeader = 4 + 2 + 2 + (8 * 5);

    /// <summary>Writes a bundle signed with HMAC-SHA256 under <paramref name="key"/> (unsigned when the key is empty).</summary>
    public static byte[] Write(BundleManifest manifest, IReadOnlyList<byte[]> models, ReadOnlySpan<byte> key, string keyId = "default")
    {
        var metrics = Encoding.UTF8.GetBytes(manifest.MetricsJson);
        var keyIdBytes = Encoding.UTF8.GetBytes(keyId);
        if (keyIdBytes.Length > 255)
        {
            throw new ArgumentException("key id longer than 255 bytes", nameof(keyId));
        }

        var body = FixedHeader + 4 + metrics.Length + 4 + models.Sum(m => 4 + m.Length);
        var signature = key.IsEmpty ? 1 : 2 + keyIdBytes.Length + HMACSHA256.HashSizeInBytes;
        var bytes = new byte[body + signature];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], (ushort)(manifest.Full ? 1 : 0));
        BinaryPrimitives.WriteUInt64LittleEndian(span[8..], manifest.Version);
        BinaryPrimitives.WriteUInt64LittleEndian(span[16..], manifest.ParentVersion);
        BinaryPrimitives.WriteInt64LittleEndian(span[24..], manifest.CreatedAtMs);
        BinaryPrimitives.WriteInt64LittleEndian(span[32..], manifest.TrainingFromMs);
        BinaryPrimitives.WriteInt64LittleEndian(span[40..], manifest.TrainingToMs);
        var pos = FixedHeader;
        BinaryPrimitives.WriteUInt32LittleEndian(span[pos..], (uint)metrics.Length);
        metrics.CopyTo(span[(pos + 4)..]);
        pos += 4 + metrics.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(span[pos..], (uint)models.Count);
        pos += 4;
        foreach (var model in models)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span[pos..], (uint)model.Length);
            model.CopyTo(span[(pos + 4)..]);
            pos += 4 + model.Length;
        }

        if (key.IsEmpty)
        {
            span[pos] = 0;
            return bytes;
        }

        span[pos] = HmacSha256;
        span[pos + 1] = (byte)keyIdBytes.Length;
        keyIdBytes.CopyTo(span[(pos + 2)..]);
        HMACSHA256.HashData(key, span[..(pos + 2 + keyIdBytes.Length)], span[(pos + 2 + keyIdBytes.Length)..]);
        return bytes;
    }

    /// <summary>
    /// Reads and verifies a bundle: structure, signature under <paramref name="key"/> (constant-time compare), and a
    /// full check of every model. On success <paramref name="models"/> holds slices of <paramref name="bytes"/>, one
    /// per title. Nothing is applied anywhere: the caller applies only a bundle that verified.
    /// </summary>
    public static BundleError TryRead(ReadOnlyMemory<byte> bytes, ReadOnlySpan<byte> key, out BundleManifest manifest, out List<ReadOnlyMemory<byte>> models, out string detail)
    {
        manifest = new BundleManifest();
        models = [];
        detail = string.Empty;
        var span = bytes.Span;
        if (span.Length < FixedHeader + 8)
        {
            detail = $"{span.Length} bytes is shorter than a bundle header";
            return BundleError.Truncated;
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(span) != Magic || BinaryPrimitives.ReadUInt16LittleEndian(span[4..]) != FormatVersion)
        {
            detail = "not an EdgeSelector bundle (magic or format version)";
            return BundleError.BadFormat;
        }

        var pos = FixedHeader;
        var metricsLength = BinaryPrimitives.ReadUInt32LittleEndian(span[pos..]);
        if (metricsLength > (uint)(span.Length - pos - 8))
        {
            detail = "metrics section runs past the end";
            return BundleError.Truncated;
        }

        var metrics = Encoding.UTF8.GetString(span.Slice(pos + 4, (int)metricsLength));
        pos += 4 + (int)metricsLength;
        var count = BinaryPrimitives.ReadUInt32LittleEndian(span[pos..]);
        pos += 4;
        var offsets = new List<(int Offset, int Length)>();
        for (var i = 0u; i < count; i++)
        {
            if (pos + 4 > span.Length)
            {
                detail = $"model {i} of {count}: length runs past the end";
                return BundleError.Truncated;
            }

            var length = BinaryPrimitives.ReadUInt32LittleEndian(span[pos..]);
            if (length > (uint)(span.Length - pos - 4))
            {
                detail = $"model {i} of {count}: {length} bytes run past the end";
                return BundleError.Truncated;
            }

            offsets.Add((pos + 4, (int)length));
            pos += 4 + (int)length;
        }

        if (pos >= span.Length || span[pos] == 0)
        {
            detail = "the bundle is not signed";
            return BundleError.Unsigned;
        }

        if (span[pos] != HmacSha256 || pos + 2 > span.Length)
        {
            detail = $"unknown signature algorithm {span[pos]}";
            return BundleError.BadSignature;
        }

        var keyIdLength = span[pos + 1];
        var macAt = pos + 2 + keyIdLength;
        if (macAt + HMACSHA256.HashSizeInBytes != span.Length)
        {
            detail = "signature section has the wrong length";
            return BundleError.Truncated;
        }

        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, span[..macAt], mac);
        if (key.IsEmpty || !CryptographicOperations.FixedTimeEquals(mac, span[macAt..]))
        {
            detail = $"signature (key id '{Encoding.UTF8.GetString(span.Slice(pos + 2, keyIdLength))}') does not verify with the configured key";
            return BundleError.BadSignature;
        }

        var titles = new HashSet<uint>();
        foreach (var (offset, length) in offsets)
        {
            var blob = bytes.Slice(offset, length);
            if (!ModelView.TryOpen(blob.Span, ModelCheck.Full, out var view, out var error))
            {
                detail = $"model at byte {offset}: {error}";
                models.Clear();
                return BundleError.CorruptModel;
            }

            if (!titles.Add(view.TitleId))
            {
                detail = $"title {view.TitleId} appears twice";
                models.Clear();
                return BundleError.DuplicateTitle;
            }

            models.Add(blob[..view.TotalLength]);
        }

        manifest = new BundleManifest
        {
            Version = BinaryPrimitives.ReadUInt64LittleEndian(span[8..]),
            ParentVersion = BinaryPrimitives.ReadUInt64LittleEndian(span[16..]),
            CreatedAtMs = BinaryPrimitives.ReadInt64LittleEndian(span[24..]),
            TrainingFromMs = BinaryPrimitives.ReadInt64LittleEndian(span[32..]),
            TrainingToMs = BinaryPrimitives.ReadInt64LittleEndian(span[40..]),
            Full = (BinaryPrimitives.ReadUInt16LittleEndian(span[6..]) & 1) != 0,
            MetricsJson = metrics,
            KeyId = Encoding.UTF8.GetString(span.Slice(pos + 2, keyIdLength)),
            Sha256 = Convert.ToHexStringLower(SHA256.HashData(span)),
        };
        return BundleError.None;
    }
}
