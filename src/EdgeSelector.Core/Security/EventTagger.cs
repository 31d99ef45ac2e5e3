using System.Security.Cryptography;

namespace EdgeSelector.Core.Security;

/// <summary>
/// Event tags (docs/protocol.md, "Event ids and tags"): a 64-bit keyed PRF of an event id, returned with every
/// impression and required with its reward, so a reward for an id the node did not issue (or issued to someone else)
/// is refused. <c>tag = first 8 bytes of AES-128(key, event id (u64 LE) ‖ "ESTag v1")</c>, read little-endian.
/// AES-NI measured cheaper per title than SipHash-2-4 (<c>EventTagBenchmarks</c>); CPUs without AES-NI take the
/// portable path, same tags. Allocation-free; thread-safe (the key is read-only after construction).
/// </summary>
public sealed class EventTagger
{
    /// <summary>Bytes of the AES-128 key.</summary>
    public const int KeySize = 16;

    /// <summary>The fewest bytes a configured secret may have.</summary>
    public const int MinSecretBytes = 16;

    // The block's second half: "ESTag v1" (little-endian), so the key is never used to encrypt anything else's blocks.
    private const ulong Domain = 0x3176_2067_6154_5345;

    private static ReadOnlySpan<byte> KeyLabel => "edgeselector event tag key v1"u8;

    private readonly Aes128 _aes;

    /// <summary>A tagger with a 16-byte AES key.</summary>
    public EventTagger(ReadOnlySpan<byte> key) => _aes = new Aes128(key);

    /// <summary>
    /// A tagger whose key is derived from a shared secret (what <c>EventKey</c> / <c>EventKeyFile</c> hold):
    /// <c>key = first 16 bytes of HMAC-SHA256(secret, "edgeselector event tag key v1")</c>. Every node given the same
    /// secret issues and accepts the same tags.
    /// </summary>
    /// <exception cref="ArgumentException">The secret has fewer than <see cref="MinSecretBytes"/> bytes.</exception>
    public static EventTagger FromSecret(ReadOnlySpan<byte> secret)
    {
        if (secret.Length < MinSecretBytes)
        {
            throw new ArgumentException($"an event-tag secret needs at least {MinSecretBytes} bytes (got {secret.Length})", nameof(secret));
        }

        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(secret, KeyLabel, mac);
        return new EventTagger(mac[..KeySize]);
    }

    /// <summary>The tag of <paramref name="eventId"/>.</summary>
    public ulong Tag(ulong eventId) => _aes.Encrypt(eventId, Domain);

    /// <summary>True when <paramref name="tag"/> is the tag of <paramref name="eventId"/> under this key.</summary>
    public bool Verify(ulong eventId, ulong tag) => Tag(eventId) == tag;
}
