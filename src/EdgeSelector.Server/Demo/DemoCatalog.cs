using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;

namespace EdgeSelector.Server.Demo;

/// <summary>
/// The server's own reader of the embedded demo catalog (Demo/demo-catalog.json, docs/catalog.md format): only the
/// fields cold-start models use, turned into the same cold models as the learning loop's <c>CatalogModelBuilder</c>
/// (DemoCatalogTests compares them), so the native binary does not carry the trainer, the simulator and the
/// estimators for twelve titles of demo data. Not a general catalog reader: the demo file is ours and fixed.
/// </summary>
internal static class DemoCatalog
{
    /// <summary>Prior weight of an image's genre tag on that genre's affinity slot (docs/catalog.md, "From catalog to models").</summary>
    public const float ThemeAffinityPrior = 0.05f;

    /// <summary>Cold-start models of every title of <paramref name="utf8Json"/>, at <paramref name="version"/>.</summary>
    public static List<TitleModel> BuildModels(ReadOnlySpan<byte> utf8Json, ulong version, FeatureSpace space)
    {
        var catalog = JsonSerializer.Deserialize(utf8Json, DemoCatalogJsonContext.Default.DemoCatalogDocument)
            ?? throw new FormatException("the demo catalog is empty");
        if (catalog.Version != 1)
        {
            throw new FormatException($"demo catalog version {catalog.Version} is not supported (expected 1)");
        }

        var models = new List<TitleModel>(catalog.Titles.Count);
        foreach (var title in catalog.Titles)
        {
            var model = new TitleModel(title.Id, version, title.DefaultImage, space) { PriorMean = title.PriorTakeRate, ColdTitle = true };
            foreach (var image in title.Images)
            {
                var cold = model.AddColdImage(image.Id, ColdStartPrior.Default, [.. image.Tags]);
                foreach (var tag in image.Tags)
                {
                    var genre = Genres.IndexOf(tag);
                    if (genre >= 0)
                    {
                        cold.Weights[FeatureEncoder.GenreSlot + genre] = ThemeAffinityPrior;
                    }
                }
            }

            models.Add(model);
        }

        return models;
    }
}

/// <summary>The demo catalog document (the fields the models use).</summary>
internal sealed record DemoCatalogDocument
{
    public int Version { get; init; } = 1;

    public List<DemoCatalogTitle> Titles { get; init; } = [];
}

/// <summary>One title of the demo catalog.</summary>
internal sealed record DemoCatalogTitle
{
    public uint Id { get; init; }

    public uint DefaultImage { get; init; }

    public float PriorTakeRate { get; init; } = 0.05f;

    public List<DemoCatalogImage> Images { get; init; } = [];
}

/// <summary>One image of a demo title.</summary>
internal sealed record DemoCatalogImage
{
    public uint Id { get; init; }

    public List<string> Tags { get; init; } = [];
}

/// <summary>Source-generated JSON metadata for the demo catalog (no reflection: native AOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(DemoCatalogDocument))]
internal sealed partial class DemoCatalogJsonContext : JsonSerializerContext;
