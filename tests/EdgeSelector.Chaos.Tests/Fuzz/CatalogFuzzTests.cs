using System.Text;
using CsCheck;
using EdgeSelector.Core.Features;
using EdgeSelector.Learning.Catalog;

namespace EdgeSelector.Chaos.Tests.Fuzz;

/// <summary>
/// The catalog reader (docs/catalog.md, <see cref="CatalogReader.Parse"/>): any document is either a catalog that
/// the bundle builder can turn into models, or a <see cref="FormatException"/> naming the problem; nothing else.
/// </summary>
public sealed class CatalogFuzzTests
{
    private const string Valid = """
        {"version":1,"titles":[
          {"id":1001,"name":"A","genres":["drama","comedy"],"defaultImage":100101,"priorTakeRate":0.05,
           "images":[{"id":100101,"tags":["drama","cast:Lead"],"url":"https://art.example/1.jpg"},{"id":100102,"tags":["comedy"]}]},
          {"id":1002,"name":"B","genres":["scifi"],"defaultImage":100201,"images":[{"id":100201,"tags":[]}]}]}
        """;

    [Fact]
    public void ValidCatalog_Parses_AndBuildsModels()
    {
        var catalog = CatalogReader.Parse(Encoding.UTF8.GetBytes(Valid));
        Assert.Equal(2, CatalogModelBuilder.Build(catalog, 1, FeatureSpace.Default).Count);
    }

    [Fact]
    public Task DamagedCatalogs_ParseOrFormatException_AndWhatParsesBuilds() =>
        Fuzz.RunAsync(JsonMutations.Of(Valid), bytes =>
        {
            CatalogDocument catalog;
            try
            {
                catalog = CatalogReader.Parse(bytes);
            }
            catch (FormatException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                return;
            }

            foreach (var model in CatalogModelBuilder.Build(catalog, 2, FeatureSpace.Default))
            {
                _ = model.Serialize(Core.Models.ModelDefaults.ServingPrecision);
            }
        }, print: b => Encoding.UTF8.GetString(b));
}
