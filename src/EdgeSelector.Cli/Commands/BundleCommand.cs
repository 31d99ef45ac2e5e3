using System.CommandLine;
using System.Globalization;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Training;

namespace EdgeSelector.Cli.Commands;

/// <summary><c>edgesel bundle</c>: merges a catalog into the next bundle (cold-start models for new titles and images; docs/catalog.md).</summary>
internal sealed class BundleCommand : CliCommand
{
    private readonly Option<string> _catalog = new("--catalog")
    {
        Description = "Catalog JSON (docs/catalog.md), e.g. samples/catalog.json",
        HelpName = "FILE",
        Required = true,
    };

    private readonly Option<string> _models = SharedOptions.Models(
        "Bundle directory: its newest bundle is merged with the catalog; the new one is written there as bundle-<version>.esb (serving, int8) and bundle-<version>.f32.esb");

    private readonly Option<ulong> _version = SharedOptions.Positive(new Option<ulong>("--version")
    {
        Description = "Version of the new bundle (default: the UTC time as yyyyMMddHHmmss, or the newest + 1 if larger)",
        HelpName = "N",
    });

    private readonly Option<string> _keyFile = SharedOptions.KeyFile();

    public BundleCommand()
        : base("bundle", "Build the next signed bundle from a catalog (cold starts for new titles and images, retired images)")
    {
        Options.Add(_catalog);
        Options.Add(_models);
        Options.Add(_version);
        Options.Add(_keyFile);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var catalogPath = InputFiles.Require(parse.GetRequiredValue(_catalog), "--catalog");
        var repo = new BundleRepository(parse.GetRequiredValue(_models));
        var key = Secrets.BundleKey(parse, _keyFile);
        var catalog = CatalogReader.Load(catalogPath);
        var latest = repo.LatestVersion();
        var current = latest > 0 ? repo.ReadForTraining(latest, key).Models : [];
        var version = parse.GetResult(_version) is { Implicit: false } ? parse.GetValue(_version) : BundleVersions.Next(latest, DateTimeOffset.UtcNow);
        if (version <= latest)
        {
            throw new CommandInputException($"version {version} is not newer than the newest bundle {latest} in {repo.Directory}.");
        }

        var space = current.Values.FirstOrDefault()?.Features ?? FeatureSpace.Default;
        var models = CatalogModelBuilder.Build(catalog, version, space, current);
        var cross = TrainCommand.LoadCrossTitle(repo);
        var (newTitles, newImages) = FoldIntoNewImages(models, current, cross);
        var retired = current.Values.Sum(old => old.Images.Count(i => !models.Any(m => m.TitleId == old.TitleId && m.Images.Any(n => n.Id == i.Id))));
        var manifest = new BundleManifest
        {
            Version = version,
            ParentVersion = latest,
            CreatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Full = true,
            MetricsJson = string.Create(CultureInfo.InvariantCulture,
                $$"""{"source":"catalog","titles":{{models.Count}},"newTitles":{{newTitles}},"newImages":{{newImages}},"retiredImages":{{retired}}}"""),
        };
        var path = repo.Write(manifest, models, key);
        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"bundle {version} (parent {latest}): {models.Count} titles, {newTitles} new titles, {newImages} new images, {retired} retired images -> {path}"));
        return ExitCodes.Ok;
    }

    // Images the current bundle does not have start from the cold prior plus what the cross-title component knows
    // about their tags (a new comedy image leans to comedy fans from the first request on).
    internal static (int Titles, int Images) FoldIntoNewImages(List<TitleModel> models, Dictionary<uint, TitleModel> current, CrossTitleModel cross)
    {
        int titles = 0, images = 0;
        Span<double> fold = stackalloc double[MemberProfile.GenreCount];
        foreach (var model in models)
        {
            current.TryGetValue(model.TitleId, out var old);
            titles += old is null ? 1 : 0;
            foreach (var image in model.Images)
            {
                if (old is not null && old.Images.Exists(i => i.Id == image.Id))
                {
                    continue;
                }

                images++;
                cross.Fold(image.Tags, fold, out var bias);
                image.Bias += (float)bias;
                for (var g = 0; g < MemberProfile.GenreCount; g++)
                {
                    image.Weights[FeatureEncoder.GenreSlot + g] += (float)fold[g];
                }
            }
        }

        return (titles, images);
    }
}
