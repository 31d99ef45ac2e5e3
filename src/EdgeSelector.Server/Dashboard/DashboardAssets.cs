using System.Security.Cryptography;

namespace EdgeSelector.Server.Dashboard;

/// <summary>
/// The page's files, embedded in the binary at build time (EdgeSelector.Server.csproj, target BuildDashboard: npm ci
/// and esbuild over Dashboard/web, then EmbeddedResource "dashboard/&lt;file&gt;"), read once at start-up. Nothing is read
/// from disk or the network when serving, so the page works on an air-gapped node and from the native binary.
/// </summary>
internal sealed class DashboardAssets
{
    private const string Prefix = "dashboard/";

    private readonly Dictionary<string, Asset> _assets;

    private DashboardAssets(Dictionary<string, Asset> assets) => _assets = assets;

    /// <summary>False when the binary was built without the page (-p:EdgeSelectorDashboard=false).</summary>
    public bool Built => _assets.ContainsKey("index.html");

    /// <summary>Loads every embedded dashboard file of this assembly.</summary>
    public static DashboardAssets Load()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(name)!;
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            var bytes = memory.ToArray();
            var file = name[Prefix.Length..];
            var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 8)) + "\"";
            assets[file] = new Asset(bytes, ContentType(file), etag);
        }

        return new DashboardAssets(assets);
    }

    /// <summary>The file <paramref name="name"/> (e.g. "app.js"), or false when the page has no such file.</summary>
    public bool TryGet(string name, out Asset asset) => _assets.TryGetValue(name, out asset!);

    private static string ContentType(string file) => Path.GetExtension(file) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        ".txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };

    /// <summary>One embedded file with its content type and a strong ETag (a prefix of its SHA-256).</summary>
    internal sealed record Asset(byte[] Bytes, string ContentType, string ETag);
}
