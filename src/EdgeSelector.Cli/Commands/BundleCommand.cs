using System.Globalization;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Training;

namespace EdgeSelector.Cli.Commands;

/// <summary><c>edgesel bundle</c>: merges a catalog into the next bundle (cold-start models for new titles and images; docs/catalog.md).</summary>
internal sealed class BundleCommand : ICommand
{
    public string Name => "bundle";

    public string Summary => "build the next signed bundle from a catalog (cold starts, retired images)";

    public string Usage => """
        usage: edgesel bundle --catalog FILE --models DIR [--version N] [--key-file FILE]
          --catalog   catalog JSON (docs/catalog.md)
          --models    the bundle directory: the newest bundle there is merged with the catalog, the new one is
                      written there as bundle-<version>.esb (serving, int8) and bundle-<version>.f32.esb
          --version   version of the new bundle (default: newest + 1)
          --key-file  HMAC-SHA256 key (else $EDGESEL_BUNDLE_KEY)
        new images also get the cross-title component learnt so far (models/trainer/cross-title.json), if any,
        through their tags and, when the catalog carries images[].embedding, their embedding (kept in
        models/trainer/embeddings.json for the trainer; docs/learning.md section 8.3).
        exit codes: 0 ok, 1 bad input, 2 bad command line
        """;

    public IReadOnlySet<string> ValueOptions { get; } = new HashSet<string> { "catalog", "models", "version", "key-file" };

    public IReadOnlySet<string> Flags { get; } = new HashSet<string>();

    public int Run(CommandArgs args, TextWriter stdout, TextWriter stderr)
    {
        var catalogPath = args.Require("catalog");
        var repo = new BundleRepository(args.Require("models"));
        var key = Secrets.BundleKey(args);
        try
        {
            var catalog = CatalogReader.Load(catalogPath);
            var latest = repo.LatestVersion();
            var current = latest > 0 ? repo.ReadForTraining(latest, key).Models : [];
            var version = args.Get("version") is { } v
                ? (ulong.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed > 0 ? parsed : throw new UsageException("--version must be a positive integer."))
                : latest + 1;
            if (version <= latest)
            {
                throw new CommandInputException($"version {version} is not newer than the newest bundle {latest} in {repo.Directory}.");
            }

            var space = current.Values.FirstOrDefault()?.Features ?? FeatureSpace.Default;
            var models = CatalogModelBuilder.Build(catalog, version, space, current);
            var embeddings = repo.MergeEmbeddings(catalog.Embeddings());
            var (newTitles, newImages) = Trainer.FoldIntoNewImages(models, current, repo.LoadCrossTitle(), embeddings);
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
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bundle {version} (parent {latest}): {models.Count} titles, {newTitles} new titles, {newImages} new images, {retired} retired images -> {path}"));
            return Program.ExitOk;
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException or CommandInputException or ArgumentException)
        {
            stderr.WriteLine($"edgesel bundle: {e.Message}");
            return Program.ExitInputError;
        }
    }
}
