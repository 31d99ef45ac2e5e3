using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeSelector.Learning.Catalog;

/// <summary>
/// What the ML team onboards and the trainer cannot invent: titles, their candidate images with theme tags, and
/// the default image (docs/catalog.md). JSON, read with source-generated System.Text.Json (native-AOT safe).
/// </summary>
/// <remarks>
/// Settable, not init-only: the source-generated reader sets init-only properties that are absent from the JSON to
/// null/0 instead of keeping their initializers (a catalog without "genres" or "priorTakeRate" then crashed the bundle
/// builder or got prior 0, not the documented 0.05); with setters an absent field keeps its default.
/// </remarks>
public sealed record CatalogDocument
{
    /// <summary>Catalog format version (1).</summary>
    public int Version { get; set; } = 1;

    /// <summary>The titles.</summary>
    public List<CatalogTitle> Titles { get; set; } = [];
}

/// <summary>One title of the catalog.</summary>
public sealed record CatalogTitle
{
    /// <summary>Title id (non-zero).</summary>
    public uint Id { get; set; }

    /// <summary>Display name (for people; not used by the models).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The title's genres (names of <see cref="Core.Features.Genres"/>).</summary>
    public List<string> Genres { get; set; } = [];

    /// <summary>The image served on any failure; must be one of <see cref="Images"/>.</summary>
    public uint DefaultImage { get; set; }

    /// <summary>Expected take rate of the title before any data (the cold-start prior mean).</summary>
    public float PriorTakeRate { get; set; } = 0.05f;

    /// <summary>The candidate images currently in service (an image missing here is retired).</summary>
    public List<CatalogImage> Images { get; set; } = [];
}

/// <summary>One candidate image.</summary>
public sealed record CatalogImage
{
    /// <summary>Image id (non-zero, unique within the title).</summary>
    public uint Id { get; set; }

    /// <summary>Theme tags: genre names ("comedy", "romance"), or free tags ("cast:Robin Williams", "clickbait").</summary>
    public List<string> Tags { get; set; } = [];

    /// <summary>A URL or CDN key of the artwork (carried for clients; not used by the models).</summary>
    public string? Url { get; set; }

    /// <summary>
    /// Optional vector from a vision model run outside (docs/catalog.md): every image that has one has the same
    /// length (1-64). The cross-title component learns member taste × embedding, so a new image starts from what similar
    /// images earned; serving never sees it (it is folded into the weights).
    /// </summary>
    public float[]? Embedding { get; set; }
}

/// <summary>Source-generated JSON metadata for the catalog (no reflection: native AOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, WriteIndented = true)]
[JsonSerializable(typeof(CatalogDocument))]
public sealed partial class CatalogJsonContext : JsonSerializerContext;

/// <summary>What a catalog carries beyond titles and images.</summary>
public static class CatalogExtensions
{
    /// <summary>The catalog's image embeddings (empty when no image has one).</summary>
    public static Training.ImageEmbeddings Embeddings(this CatalogDocument catalog)
    {
        var embeddings = new Training.ImageEmbeddings();
        foreach (var title in catalog.Titles)
        {
            foreach (var image in title.Images)
            {
                if (image.Embedding is { } vector)
                {
                    embeddings.Set(title.Id, image.Id, vector);
                }
            }
        }

        return embeddings;
    }
}

/// <summary>Reads and validates catalogs.</summary>
public static class CatalogReader
{
    /// <summary>Parses a catalog and checks it; throws <see cref="FormatException"/> naming the first problem.</summary>
    public static CatalogDocument Parse(ReadOnlySpan<byte> utf8Json)
    {
        CatalogDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(utf8Json, CatalogJsonContext.Default.CatalogDocument);
        }
        catch (JsonException e)
        {
            throw new FormatException($"catalog is not valid JSON: {e.Message}", e);
        }

        if (document is null)
        {
            throw new FormatException("catalog is empty");
        }

        CheckShape(document);
        Validate(document);
        return document;
    }

    // A JSON null where a list or a name belongs, or a tag the model format cannot hold, is a FormatException naming it,
    // not a NullReferenceException or an ArgumentException from the bundle builder later (found by the chaos suite's
    // fuzz target, pinned in tests/EdgeSelector.Chaos.Tests/Fuzz/RegressionTests.cs).
    private static void CheckShape(CatalogDocument document)
    {
        if (document.Titles is null)
        {
            throw new FormatException("catalog: titles is null (expected an array of titles)");
        }

        for (var t = 0; t < document.Titles.Count; t++)
        {
            var title = document.Titles[t] ?? throw new FormatException($"catalog: titles[{t}] is null");
            if (title.Name is null || title.Genres is null || title.Images is null || title.Genres.Contains(null!))
            {
                throw new FormatException($"title {title.Id}: name, genres and images must not be null (nor any genre)");
            }

            for (var i = 0; i < title.Images.Count; i++)
            {
                var image = title.Images[i] ?? throw new FormatException($"title {title.Id}: images[{i}] is null");
                if (image.Tags is null || image.Tags.Contains(null!))
                {
                    throw new FormatException($"title {title.Id} image {image.Id}: tags must be an array of strings, not null");
                }

                if (image.Tags.Count > 255 || image.Tags.Exists(tag => System.Text.Encoding.UTF8.GetByteCount(tag) > 255))
                {
                    throw new FormatException($"title {title.Id} image {image.Id}: at most 255 tags of at most 255 UTF-8 bytes each (docs/model-format.md)");
                }
            }
        }
    }

    /// <summary>Reads a catalog file.</summary>
    public static CatalogDocument Load(string path) => Parse(File.ReadAllBytes(path));

    /// <summary>Checks ids, defaults and tags; throws <see cref="FormatException"/> naming the first problem.</summary>
    public static void Validate(CatalogDocument document)
    {
        if (document.Version != 1)
        {
            throw new FormatException($"catalog version {document.Version} is not supported (expected 1)");
        }

        var titles = new HashSet<uint>();
        var embeddingLength = 0;
        foreach (var title in document.Titles)
        {
            if (title.Id == 0 || !titles.Add(title.Id))
            {
                throw new FormatException($"title id {title.Id} is 0 or repeated");
            }

            if (title.Images.Count is 0 or > Core.Models.ModelFormat.MaxImages)
            {
                throw new FormatException($"title {title.Id}: needs 1 to {Core.Models.ModelFormat.MaxImages} images, has {title.Images.Count}");
            }

            var images = new HashSet<uint>();
            foreach (var image in title.Images)
            {
                if (image.Id == 0 || !images.Add(image.Id))
                {
                    throw new FormatException($"title {title.Id}: image id {image.Id} is 0 or repeated");
                }
            }

            foreach (var image in title.Images)
            {
                if (image.Embedding is not { } vector)
                {
                    continue;
                }

                embeddingLength = embeddingLength == 0 ? vector.Length : embeddingLength;
                if (vector.Length is 0 or > Training.ImageEmbeddings.MaxDimension || vector.Length != embeddingLength)
                {
                    throw new FormatException($"title {title.Id} image {image.Id}: an embedding has 1 to {Training.ImageEmbeddings.MaxDimension} values, the same number for every image ({embeddingLength}), not {vector.Length}");
                }

                if (Array.Exists(vector, v => !float.IsFinite(v)))
                {
                    throw new FormatException($"title {title.Id} image {image.Id}: an embedding value is not a finite number");
                }
            }

            if (!images.Contains(title.DefaultImage))
            {
                throw new FormatException($"title {title.Id}: default image {title.DefaultImage} is not one of its images");
            }

            if (!(title.PriorTakeRate is >= 0 and <= 1))
            {
                throw new FormatException($"title {title.Id}: priorTakeRate {title.PriorTakeRate} is not in [0, 1]");
            }

            foreach (var genre in title.Genres)
            {
                if (Core.Features.Genres.IndexOf(genre) < 0)
                {
                    throw new FormatException($"title {title.Id}: unknown genre '{genre}' (known: {string.Join(", ", Core.Features.Genres.Names)})");
                }
            }
        }
    }
}
