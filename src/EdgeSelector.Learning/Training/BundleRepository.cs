using System.Globalization;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Models;

namespace EdgeSelector.Learning.Training;

/// <summary>
/// The directory of bundles the control plane keeps (<c>bundle-&lt;version&gt;.esb</c>, each signed), from which
/// <c>edgesel train</c> warm-starts and <c>edgesel push</c> sends. The newest version is "current".
/// </summary>
/// <remarks>
/// Next to each serving bundle (int8 weights and variances) lies a full-precision copy (<c>.f32.esb</c>, same format
/// and signature): int8 variances would round the small posterior variances of a title to zero, and a warm start
/// from zero variance would freeze those weights. The trainer warm-starts from the full-precision copy when it exists.
/// </remarks>
public sealed class BundleRepository
{
    private const string Prefix = "bundle-";
    private const string Extension = ".esb";
    private const string FullPrecision = ".f32";

    /// <summary>Opens (creating) the directory.</summary>
    public BundleRepository(string directory)
    {
        Directory = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(Directory);
    }

    /// <summary>The directory.</summary>
    public string Directory { get; }

    /// <summary>The trainer's state directory inside it.</summary>
    public string StateDirectory => Path.Combine(Directory, "trainer");

    /// <summary>The cross-title component the last training run left (<c>trainer/cross-title.json</c>; empty before the first).</summary>
    public CrossTitleModel LoadCrossTitle()
    {
        var path = Path.Combine(StateDirectory, "cross-title.json");
        return File.Exists(path) ? CrossTitleModel.FromJson(File.ReadAllText(path)) : new CrossTitleModel();
    }

    /// <summary>The image embeddings taken from catalogs so far (<c>trainer/embeddings.json</c>; empty when none).</summary>
    public ImageEmbeddings LoadEmbeddings()
    {
        var path = Path.Combine(StateDirectory, "embeddings.json");
        return File.Exists(path) ? ImageEmbeddings.FromJson(File.ReadAllText(path)) : new ImageEmbeddings();
    }

    /// <summary>
    /// Adds a catalog's embeddings to the kept ones and saves them (only when the catalog has any): a catalog that
    /// carries embeddings of another dimension replaces them all (another vision model).
    /// </summary>
    public ImageEmbeddings MergeEmbeddings(ImageEmbeddings fromCatalog)
    {
        var kept = LoadEmbeddings();
        if (fromCatalog.Vectors.Count == 0)
        {
            return kept;
        }

        var merged = kept.Dimension == fromCatalog.Dimension ? kept : new ImageEmbeddings();
        foreach (var (key, vector) in fromCatalog.Vectors)
        {
            merged.Set((uint)(key >> 32), (uint)key, vector);
        }

        System.IO.Directory.CreateDirectory(StateDirectory);
        var path = Path.Combine(StateDirectory, "embeddings.json");
        File.WriteAllText(path + ".tmp", merged.ToJson());
        File.Move(path + ".tmp", path, overwrite: true);
        return merged;
    }

    /// <summary>Path of the bundle of a version.</summary>
    public string PathOf(ulong version) => Path.Combine(Directory, Prefix + version.ToString("D10", CultureInfo.InvariantCulture) + Extension);

    /// <summary>The newest bundle's version, or 0 when there is none.</summary>
    public ulong LatestVersion()
    {
        ulong latest = 0;
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, Prefix + "*" + Extension))
        {
            var name = Path.GetFileNameWithoutExtension(file)[Prefix.Length..];
            if (name.EndsWith(FullPrecision, StringComparison.Ordinal))
            {
                continue;
            }

            if (ulong.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
            {
                latest = Math.Max(latest, v);
            }
        }

        return latest;
    }

    /// <summary>Path of the full-precision copy of a version.</summary>
    public string FullPrecisionPathOf(ulong version) => Path.ChangeExtension(PathOf(version), FullPrecision + Extension);

    /// <summary>The models of a version for training: the full-precision copy if present, else the serving bundle.</summary>
    public (BundleManifest Manifest, Dictionary<uint, TitleModel> Models) ReadForTraining(ulong version, ReadOnlySpan<byte> key) =>
        Read(File.Exists(FullPrecisionPathOf(version)) ? FullPrecisionPathOf(version) : PathOf(version), key);

    /// <summary>Reads and verifies a bundle file; throws <see cref="InvalidDataException"/> naming what is wrong.</summary>
    public static (BundleManifest Manifest, Dictionary<uint, TitleModel> Models) Read(string path, ReadOnlySpan<byte> key)
    {
        var bytes = File.ReadAllBytes(path);
        var error = ModelBundle.TryRead(bytes, key, out var manifest, out var blobs, out var detail);
        if (error != BundleError.None)
        {
            throw new InvalidDataException($"{path}: {error}: {detail}");
        }

        var models = new Dictionary<uint, TitleModel>();
        foreach (var blob in blobs)
        {
            ModelView.TryOpen(blob.Span, ModelCheck.Full, out var view, out _);
            models[view.TitleId] = TitleModel.FromView(view);
        }

        return (manifest, models);
    }

    /// <summary>Writes a signed bundle of <paramref name="models"/> (serving precision) for the manifest's version; returns its path.</summary>
    public string Write(BundleManifest manifest, IReadOnlyCollection<TitleModel> models, ReadOnlySpan<byte> key)
    {
        var ordered = models.OrderBy(m => m.TitleId).ToList();
        WriteFile(FullPrecisionPathOf(manifest.Version), ModelBundle.Write(manifest, [.. ordered.Select(m => m.Serialize(WeightPrecision.Float32))], key));
        var path = PathOf(manifest.Version);
        WriteFile(path, ModelBundle.Write(manifest, [.. ordered.Select(m => m.Serialize(ModelDefaults.ServingPrecision))], key));
        return path;
    }

    private static void WriteFile(string path, byte[] bytes)
    {
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
    }
}
