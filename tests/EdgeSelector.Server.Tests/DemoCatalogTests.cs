using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Server.Demo;

namespace EdgeSelector.Server.Tests;

/// <summary>
/// The server reads its embedded demo catalog with a reader of its own (it must not reference the learning loop):
/// the models it builds are byte for byte the ones the learning loop's CatalogModelBuilder builds from the same file.
/// </summary>
public class DemoCatalogTests
{
    [Fact]
    public void BuildModels_EmbeddedCatalog_SameBytesAsTheLearningLoopsBuilder()
    {
        var json = EmbeddedCatalog();
        var server = DemoCatalog.BuildModels(json, version: 1, FeatureSpace.Default);
        var learning = CatalogModelBuilder.Build(CatalogReader.Parse(json), version: 1, FeatureSpace.Default);
        Assert.Equal(12, server.Count);
        Assert.Equal(learning.Count, server.Count);
        Assert.Equal(CatalogModelBuilder.ThemeAffinityPrior, DemoCatalog.ThemeAffinityPrior);
        for (var i = 0; i < server.Count; i++)
        {
            Assert.Equal(learning[i].Serialize(ModelDefaults.ServingPrecision), server[i].Serialize(ModelDefaults.ServingPrecision));
        }
    }

    private static byte[] EmbeddedCatalog()
    {
        using var stream = typeof(DemoCatalog).Assembly.GetManifestResourceStream("demo-catalog.json")!;
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }
}
