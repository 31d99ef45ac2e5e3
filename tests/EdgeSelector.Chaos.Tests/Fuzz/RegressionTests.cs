using System.Text;
using EdgeSelector.Core.Features;
using EdgeSelector.Learning.Catalog;

namespace EdgeSelector.Chaos.Tests.Fuzz;

/// <summary>
/// Every crash the fuzz targets found, pinned with its input (the shrunk case CsCheck printed, and its neighbours)
/// after the fix: each must now give the parser's documented error.
/// </summary>
public sealed class RegressionTests
{
    /// <summary>
    /// CatalogFuzzTests, seed 41bk96TubIZ1: a JSON null where the catalog has a list or a string threw
    /// NullReferenceException from CatalogReader.Validate or CatalogModelBuilder.Build (edgesel bundle crashed instead
    /// of naming the problem). Now a FormatException naming the field.
    /// </summary>
    [Theory]
    [InlineData("""{"version":1,"titles":null}""", "titles is null")]
    [InlineData("""{"version":1,"titles":[null]}""", "titles[0] is null")]
    [InlineData("""{"version":1,"titles":[{"id":1,"defaultImage":2,"images":null}]}""", "must not be null")]
    [InlineData("""{"version":1,"titles":[{"id":1,"defaultImage":2,"genres":null,"images":[{"id":2}]}]}""", "must not be null")]
    [InlineData("""{"version":1,"titles":[{"id":1,"defaultImage":2,"genres":[null],"images":[{"id":2}]}]}""", "must not be null")]
    [InlineData("""{"version":1,"titles":[{"id":1,"defaultImage":2,"name":null,"images":[{"id":2}]}]}""", "must not be null")]
    [InlineData("""{"version":1,"titles":[{"id":1,"defaultImage":2,"images":[null]}]}""", "images[0] is null")]
    [InlineData("""{"version":1,"titles":[{"id":1,"defaultImage":2,"images":[{"id":2,"tags":null}]}]}""", "tags must be")]
    [InlineData("""{"version":1,"titles":[{"id":1,"defaultImage":2,"images":[{"id":2,"tags":[null]}]}]}""", "tags must be")]
    public void Catalog_NullWhereAListOrNameBelongs_IsAFormatExceptionNamingIt(string json, string message)
    {
        var error = Assert.Throws<FormatException>(() => CatalogReader.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The same seed's shrunk input, <c>{"version":1}</c>: a field left out came back null (init-only properties under
    /// the source-generated reader), so the reader crashed on it and an absent priorTakeRate was 0, not the documented
    /// 0.05. Now a left-out field keeps its documented default.
    /// </summary>
    [Fact]
    public void Catalog_WithEveryOptionalFieldLeftOut_KeepsTheDocumentedDefaults_AndBuilds()
    {
        Assert.Empty(CatalogReader.Parse("""{"version":1}"""u8).Titles);
        var catalog = CatalogReader.Parse("""{"version":1,"titles":[{"id":1,"defaultImage":2,"images":[{"id":2}]}]}"""u8);
        var title = Assert.Single(catalog.Titles);
        Assert.Equal((string.Empty, 0.05f), (title.Name, title.PriorTakeRate));
        Assert.Empty(title.Genres);
        Assert.Empty(title.Images[0].Tags);
        var model = Assert.Single(CatalogModelBuilder.Build(catalog, 1, FeatureSpace.Default));
        Assert.Equal(0.05f, model.PriorMean);
    }

    /// <summary>
    /// CatalogFuzzTests, seed cSn5xxSwH6e3: a tag of 5,000 bytes passed the reader, then the bundle builder threw
    /// ArgumentException ("at most 255 tags of at most 255 bytes") from TitleModel.Serialize. Now the reader refuses it.
    /// </summary>
    [Theory]
    [InlineData(256, 1)]
    [InlineData(1, 256)]
    public void Catalog_TagsTheModelFormatCannotHold_AreAFormatException(int tagBytes, int tagCount)
    {
        var tags = string.Join(",", Enumerable.Range(0, tagCount).Select(i => $"\"{new string('a', tagBytes - 1)}{i % 10}\""));
        var json = $$"""{"version":1,"titles":[{"id":1,"defaultImage":2,"images":[{"id":2,"tags":[{{tags}}]}]}]}""";
        var error = Assert.Throws<FormatException>(() => CatalogReader.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Contains("at most 255 tags", error.Message, StringComparison.Ordinal);
    }
}
