using System.Security.Cryptography;
using EdgeSelector.Core.Security;
using EdgeSelector.Server.Configuration;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// Where the event-tag key comes from (docs/protocol.md, "Event ids and tags"): <c>EventKey</c> (the secret as text,
/// from the environment or appsettings, never a command-line argument in docs) or <c>EventKeyFile</c> (a file holding
/// the secret); with neither, a random secret the node creates once in its data directory (<see cref="NodeLocalFileName"/>,
/// mode 0600). Every node of a fleet must be given the same secret: a reward may reach another node than its impression.
/// </summary>
internal static class EventTagKeys
{
    /// <summary>File name of the node-local secret in the data directory.</summary>
    public const string NodeLocalFileName = "event-tag.key";

    /// <summary>The tagger for <paramref name="options"/>; <paramref name="nodeLocalPath"/> is set when the node-local key is used.</summary>
    /// <exception cref="ArgumentException">The configured key is unreadable or shorter than 16 bytes (a configuration error).</exception>
    public static EventTagger Load(EdgeSelectorOptions options, string dataDir, out string? nodeLocalPath) =>
        Load(options, dataDir, tagsIssued: false, out nodeLocalPath, out _);

    /// <summary>
    /// As <see cref="Load(EdgeSelectorOptions, string, out string?)"/>, checking the node-local key file: it holds the key
    /// and its CRC-32C (<c>hex key, space, hex CRC</c>; a key alone, as first written, is still read). A file that is
    /// empty, cut short, altered or (when <paramref name="tagsIssued"/>: the logs already hold events) missing is
    /// <paramref name="damage"/>: the file is moved aside as <c>event-tag.key.damaged</c> and a new key created, so the
    /// rewards of events tagged before answer <c>unverified</c>; the caller reports it (or refuses to start).
    /// </summary>
    public static EventTagger Load(EdgeSelectorOptions options, string dataDir, bool tagsIssued, out string? nodeLocalPath, out string? damage)
    {
        nodeLocalPath = null;
        damage = null;
        if (!string.IsNullOrEmpty(options.EventKey))
        {
            return FromSecret(System.Text.Encoding.UTF8.GetBytes(options.EventKey), nameof(options.EventKey));
        }

        if (!string.IsNullOrEmpty(options.EventKeyFile))
        {
            return FromSecret(SharedSecret(ReadSecret(options.EventKeyFile, nameof(options.EventKeyFile)), options.EventKeyFile), nameof(options.EventKeyFile));
        }

        nodeLocalPath = Path.Combine(dataDir, NodeLocalFileName);
        if (!File.Exists(nodeLocalPath))
        {
            if (tagsIssued)
            {
                damage = $"{NodeLocalFileName} is missing although events were issued: a new key was created; rewards for events issued before answer unverified";
            }

            CreateNodeLocal(nodeLocalPath);
        }
        else if (NodeLocalProblem(ReadSecret(nodeLocalPath, "node-local event key")) is { } problem)
        {
            damage = $"{NodeLocalFileName} is damaged ({problem}): moved aside as {NodeLocalFileName}.damaged and a new key created; rewards for events issued before answer unverified";
            if (options.OnDamage == Storage.Health.DamagePolicy.Refuse)
            {
                throw new Health.StartupRefusedException($"{damage[..damage.IndexOf(':', StringComparison.Ordinal)]} (EdgeSelector:OnDamage=Refuse)");
            }

            File.Move(nodeLocalPath, nodeLocalPath + ".damaged", overwrite: true);
            CreateNodeLocal(nodeLocalPath);
        }

        return FromSecret(KeyOf(ReadSecret(nodeLocalPath, "node-local event key")), "node-local event key");
    }

    private const int KeyHexChars = 64;

    // "<64 hex> <8 hex CRC-32C of the 64 characters>", or the 64 hex characters alone (files written before the CRC).
    private static string? NodeLocalProblem(byte[] text)
    {
        if (text.Length is not (KeyHexChars or KeyHexChars + 9))
        {
            return text.Length == 0 ? "empty" : $"{text.Length} bytes, not {KeyHexChars + 9}";
        }

        if (!IsHex(text.AsSpan(0, KeyHexChars)) || (text.Length > KeyHexChars && (text[KeyHexChars] != (byte)' ' || !IsHex(text.AsSpan(KeyHexChars + 1)))))
        {
            return "not hexadecimal";
        }

        return text.Length > KeyHexChars && Convert.ToHexStringLower(Crc(text.AsSpan(0, KeyHexChars))) != System.Text.Encoding.ASCII.GetString(text, KeyHexChars + 1, 8)
            ? "checksum mismatch"
            : null;
    }

    private static byte[] KeyOf(byte[] text) => text.Length > KeyHexChars ? text[..KeyHexChars] : text;

    // EventKeyFile's secret: a copy of a node's own event-tag.key ("<64 hex> <CRC>") gives that node's key, the 64
    // characters it tags with, so copying one node's file to the others shares its key (docs/protocol.md); any other
    // file is the secret as it stands. A file in the node-local shape whose checksum does not match is refused.
    private static byte[] SharedSecret(byte[] text, string path)
    {
        if (text.Length != KeyHexChars + 9 || text[KeyHexChars] != (byte)' ' || !IsHex(text.AsSpan(0, KeyHexChars)) || !IsHex(text.AsSpan(KeyHexChars + 1)))
        {
            return text;
        }

        return NodeLocalProblem(text) is { } problem
            ? throw new ArgumentException($"EdgeSelector:EventKeyFile {path} looks like a node's {NodeLocalFileName} but is damaged ({problem}): copy the file whole, or give the 64 hexadecimal characters alone")
            : KeyOf(text);
    }

    private static bool IsHex(ReadOnlySpan<byte> text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiHexDigitLower((char)c))
            {
                return false;
            }
        }

        return true;
    }

    private static byte[] Crc(ReadOnlySpan<byte> data)
    {
        var crc = Core.Numerics.Crc32C.Compute(data);
        return [(byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc];
    }

    private static EventTagger FromSecret(byte[] secret, string key)
    {
        if (secret.Length < EventTagger.MinSecretBytes)
        {
            throw new ArgumentException($"EdgeSelector:{key} must hold at least {EventTagger.MinSecretBytes} bytes (32 random bytes, hex, is a good key)");
        }

        return EventTagger.FromSecret(secret);
    }

    // The file's bytes without trailing whitespace (an editor's newline is not part of the secret).
    private static byte[] ReadSecret(string path, string key)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"EdgeSelector:{key} {path}: {e.Message}", e);
        }

        var length = bytes.Length;
        while (length > 0 && bytes[length - 1] is (byte)'\n' or (byte)'\r' or (byte)' ' or (byte)'\t')
        {
            length--;
        }

        return bytes[..length];
    }

    // 32 random bytes as hex, written to a temporary file (owner read/write only), synced, then moved into place, so a
    // crash never leaves a half-written key; a concurrent creator's key wins and is read back.
    private static void CreateNodeLocal(string path)
    {
        Span<byte> random = stackalloc byte[32];
        RandomNumberGenerator.Fill(random);
        var hex = System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(random));
        var text = System.Text.Encoding.ASCII.GetBytes($"{Convert.ToHexStringLower(random)} {Convert.ToHexStringLower(Crc(hex))}\n");
        var temp = path + ".tmp";
        var create = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temp, create))
        {
            stream.Write(text);
            stream.Flush(flushToDisk: true);
        }

        try
        {
            File.Move(temp, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temp);
        }
    }
}
