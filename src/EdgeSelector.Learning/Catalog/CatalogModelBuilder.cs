using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;

namespace EdgeSelector.Learning.Catalog;

/// <summary>
/// Turns a catalog into models: cold-start models for new titles and images, and catalog changes merged into the
/// current models (an image added starts cold, an image retired is dropped, a new default is taken). docs/catalog.md.
/// </summary>
public static class CatalogModelBuilder
{
    /// <summary>
    /// Prior weight linking a member's affinity for a genre to an image tagged with that genre: before any data, a
    /// comedy fan is a little more likely to play when shown the comedy image. Small against typical take rates, so
    /// the first data overrides it.
    /// </summary>
    public const float ThemeAffinityPrior = 0.05f;

    /// <summary>
    /// Builds the models of every catalog title at <paramref name="version"/>: titles in <paramref name="current"/>
    /// keep their trained images (with the catalog's images, default and tags), others start cold.
    /// </summary>
    public static List<TitleModel> Build(
        CatalogDocument catalog, ulong version, FeatureSpace space, IReadOnlyDictionary<uint, TitleModel>? current = null,
        ColdStartPrior? prior = null)
    {
        var coldPrior = prior ?? ColdStartPrior.Default;
        var models = new List<TitleModel>(catalog.Titles.Count);
        foreach (var title in catalog.Titles)
        {
            TitleModel? existing = null;
            current?.TryGetValue(title.Id, out existing);
            if (existing is not null && existing.Features != space)
            {
                existing = null; // a new feature space cannot reuse old weights
            }

            var model = new TitleModel(title.Id, version, title.DefaultImage, space)
            {
                PriorMean = existing?.PriorMean ?? title.PriorTakeRate,
                ColdTitle = existing?.ColdTitle ?? true,
            };
            foreach (var image in title.Images)
            {
                var trained = existing?.Images.Find(i => i.Id == image.Id);
                if (trained is not null)
                {
                    trained.Tags = [.. image.Tags];
                    model.Images.Add(trained);
                    continue;
                }

                var cold = model.AddColdImage(image.Id, coldPrior, [.. image.Tags]);
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
