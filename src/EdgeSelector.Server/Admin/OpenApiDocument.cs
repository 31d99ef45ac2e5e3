namespace EdgeSelector.Server.Admin;

/// <summary>
/// <c>GET /openapi.json</c>: the OpenAPI 3.1 description of the admin port (Admin/openapi.json, embedded in the
/// binary). Written by hand because the handlers read raw bodies and return <see cref="IResult"/>s that no generator
/// can see through; kept true by tests that compare it with the mapped routes and the source-generated JSON contracts
/// (OpenApiDocumentTests). Open like /healthz: it describes shapes, never data, tokens or keys.
/// </summary>
internal static class OpenApiDocument
{
    /// <summary>The path it is served at.</summary>
    public const string Path = "/openapi.json";

    /// <summary>Maps <see cref="Path"/>.</summary>
    public static void Map(WebApplication app)
    {
        var bytes = Load();
        app.MapGet(Path, () => Results.Bytes(bytes, "application/json"));
    }

    /// <summary>The document's bytes (UTF-8 JSON).</summary>
    public static byte[] Load()
    {
        using var stream = typeof(OpenApiDocument).Assembly.GetManifestResourceStream("openapi.json")
            ?? throw new InvalidOperationException("openapi.json is not embedded in this build");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
