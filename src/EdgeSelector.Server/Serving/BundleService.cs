using System.Text.Json;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Models;
using EdgeSelector.Server.Admin;
using EdgeSelector.Storage.Models;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// Applies model bundles: verify (signature, every model's checksum), refuse stale versions unless forced, write a
/// new store generation, switch to it atomically; roll back to the previous one. A refused bundle changes nothing.
/// </summary>
internal sealed class BundleService
{
    private readonly ModelStore _models;
    private readonly DefaultImages _defaults;
    private readonly byte[] _bundleKey;
    private readonly string _manifestPath;
    private readonly Lock _lock = new();
    private List<BundleInfo> _applied;

    public BundleService(ModelStore models, DefaultImages defaults, byte[] bundleKey, string dataDir)
    {
        _models = models;
        _defaults = defaults;
        _bundleKey = bundleKey;
        _manifestPath = Path.Combine(dataDir, "bundles.json");
        _applied = File.Exists(_manifestPath)
            ? JsonSerializer.Deserialize(File.ReadAllBytes(_manifestPath), AdminJsonContext.Default.ListBundleInfo) ?? []
            : [];
    }

    /// <summary>Verifies and applies a bundle. Returns the applied bundle or the reason it was refused.</summary>
    public BundleOutcome Apply(ReadOnlyMemory<byte> bytes, bool force)
    {
        var error = ModelBundle.TryRead(bytes, _bundleKey, out var manifest, out var models, out var detail);
        if (error != BundleError.None)
        {
            return BundleOutcome.Refused(error == BundleError.Unsigned || error == BundleError.BadSignature ? 403 : 422, $"{error}: {detail}");
        }

        lock (_lock)
        {
            var current = _models.Version;
            if (manifest.Version <= current && !force)
            {
                return BundleOutcome.Refused(409, $"bundle version {manifest.Version} is not newer than the served version {current} (push with force to override)");
            }

            if (manifest.Full && models.Count == 0)
            {
                return BundleOutcome.Refused(422, "a full bundle must hold at least one model");
            }

            return ApplyVerified(manifest, models);
        }
    }

    /// <summary>Applies models that were already verified (a checked bundle, or the built-in demo catalog).</summary>
    public BundleOutcome ApplyVerified(BundleManifest manifest, List<ReadOnlyMemory<byte>> models)
    {
        lock (_lock)
        {
            var defaults = new Dictionary<uint, uint>(models.Count);
            using (var writer = _models.BeginBundle(manifest.Version, partial: !manifest.Full))
            {
                var validator = default(FullCheck);
                foreach (var blob in models)
                {
                    ModelView.TryOpen(blob.Span, ModelCheck.Structure, out var view, out _);
                    var title = view.TitleId;
                    defaults[title] = view.DefaultImageId;
                    if (!writer.TryAdd(title, blob.Span, ref validator))
                    {
                        return BundleOutcome.Refused(422, $"model of title {title} failed its check");
                    }
                }

                writer.Commit();
            }

            _defaults.Merge(defaults);
            var info = new BundleInfo
            {
                Version = manifest.Version,
                ParentVersion = manifest.ParentVersion,
                CreatedAtMs = manifest.CreatedAtMs,
                TrainingFromMs = manifest.TrainingFromMs,
                TrainingToMs = manifest.TrainingToMs,
                Full = manifest.Full,
                Titles = _models.TitleCount,
                AppliedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                Metrics = manifest.MetricsJson,
                KeyId = manifest.KeyId,
                Sha256 = manifest.Sha256,
            };
            _applied = [.. _applied.Where(b => b.Version != info.Version).TakeLast(9), info];
            Persist();
            return BundleOutcome.Applied(info);
        }
    }

    /// <summary>Returns to the previous bundle; false when there is none.</summary>
    public bool Rollback(out ulong version)
    {
        lock (_lock)
        {
            var ok = _models.Rollback();
            version = _models.Version;
            return ok;
        }
    }

    /// <summary>The active and previous bundles and the recent history.</summary>
    public ModelsListing List()
    {
        var active = _models.Version;
        var previous = _models.PreviousVersion;
        var applied = Volatile.Read(ref _applied);
        return new ModelsListing
        {
            ActiveVersion = active,
            PreviousVersion = previous,
            Titles = _models.TitleCount,
            Active = applied.LastOrDefault(b => b.Version == active),
            Generations = [.. _models.Generations.Select(g => new GenerationListing { Version = g.Version, Titles = g.TitleCount, CreatedAt = g.CreatedAt })],
            History = applied,
        };
    }

    private void Persist()
    {
        var temp = _manifestPath + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(_applied, AdminJsonContext.Default.ListBundleInfo));
        File.Move(temp, _manifestPath, overwrite: true);
    }

    /// <summary>The store's last line of defence: the full model check again, and the blob's title must be the key's.</summary>
    private readonly struct FullCheck : IModelValidator
    {
        public bool Validate(uint titleId, ReadOnlySpan<byte> model) =>
            ModelView.TryOpen(model, ModelCheck.Full, out var view, out _) && view.TitleId == titleId;
    }
}

/// <summary>The result of a push.</summary>
internal readonly record struct BundleOutcome(bool Ok, int Status, string Message, BundleInfo? Info)
{
    public static BundleOutcome Applied(BundleInfo info) => new(true, 200, "applied", info);

    public static BundleOutcome Refused(int status, string message) => new(false, status, message, null);
}
