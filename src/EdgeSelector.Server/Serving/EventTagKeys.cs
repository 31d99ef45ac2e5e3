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
    public static EventTagger Load(EdgeSelectorOptions options, string dataDir, out string? nodeLocalPath)
    {
        nodeLocalPath = null;
        if (!string.IsNullOrEmpty(options.EventKey))
        {
            return FromSecret(System.Text.Encoding.UTF8.GetBytes(options.EventKey), nameof(options.EventKey));
        }

        if (!string.IsNullOrEmpty(options.EventKeyFile))
        {
            return FromSecret(ReadSecret(options.EventKeyFile, nameof(options.EventKeyFile)), nameof(options.EventKeyFile));
        }

        nodeLocalPath = Path.Combine(dataDir, NodeLocalFileName);
        if (!File.Exists(nodeLocalPath))
        {
            CreateNodeLocal(nodeLocalPath);
        }

        return FromSecret(ReadSecret(nodeLocalPath, "node-local event key"), "node-local event key");
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
        var text = System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(random) + "\n");
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
