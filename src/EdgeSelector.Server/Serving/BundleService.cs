using System.Text.Json;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Models;
using EdgeSelector.Storage;
using EdgeSelector.Storage.Models;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// Applies model bundles: verify (signature, every model's checksum), refuse stale versions unless forced, write a
/// new store generation, switch to it atomically once it is durable; roll back to the previous one. A refused bundle
/// changes nothing. Returns a <see cref="BundleResult"/>; the admin API maps it to HTTP (the service knows no HTTP).
/// </summary>
/// <remarks>
/// The history of applied bundles and the default images are committed with each bundle into the model store
/// (metadata slots <see cref="HistorySlot"/> and <see cref="DefaultImages.Slot"/>): one durable place for each.
/// </remarks>
internal sealed class BundleService
{
    /// <summary>The model store's metadata slot holding the last <see cref="HistoryLength"/> applied bundles (JSON).</summary>
    public const uint HistorySlot = 1;

    /// <summary>Applied bundles kept in the history.</summary>
    public const int HistoryLength = 10;

    private readonly ModelStore _models;
    private readonly DefaultImages _defaults;
    private readonly byte[] _bundleKey;
    private readonly TimeSpan _writeTimeout;
    // One push or rollback at a time, held across the store's awaited checkpoint (a SemaphoreSlim, not a lock: no
    // thread is held while the disk writes; docs/performance.md, "Thread-pool floor").
    private readonly SemaphoreSlim _gate = new(1, 1);
    private List<AppliedBundle> _history;

    public BundleService(ModelStore models, DefaultImages defaults, byte[] bundleKey, TimeSpan writeTimeout)
    {
        _models = models;
        _defaults = defaults;
        _bundleKey = bundleKey;
        _writeTimeout = writeTimeout;
        _history = ReadHistory(models);

        // A push that was pending on the disk takes effect later, on another thread: re-read what derives from it.
        models.Published += () =>
        {
            _defaults.Refresh();
            Volatile.Write(ref _history, ReadHistory(_models));
        };
    }

    /// <summary>The recent history, oldest first.</summary>
    public IReadOnlyList<AppliedBundle> History => Volatile.Read(ref _history);

    /// <summary>Verifies and applies a bundle (blocks the calling thread: tests only; the admin API, the rollout's promotion and the fleet await <see cref="ApplyAsync"/>).</summary>
    public BundleResult Apply(ReadOnlyMemory<byte> bytes, bool force) => ApplyAsync(bytes, force).GetAwaiter().GetResult();

    /// <summary>Verifies and applies a bundle; completes when it is durable, pending on the disk, or refused.</summary>
    public async Task<BundleResult> ApplyAsync(ReadOnlyMemory<byte> bytes, bool force)
    {
        var error = ModelBundle.TryRead(bytes, _bundleKey, out var manifest, out var models, out var detail);
        if (error != BundleError.None)
        {
            return new(error is BundleError.Unsigned or BundleError.BadSignature ? BundleResultKind.Unauthenticated : BundleResultKind.Invalid, $"{error}: {detail}");
        }

        var sha = manifest.Sha256;
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            var current = _models.Version;
            if (manifest.Version == current && sha.Length > 0 && History.LastOrDefault(b => b.Version == current)?.Sha256 == sha)
            {
                // A retry of a push that was answered "not durable yet" and has since taken effect.
                return new(BundleResultKind.AlreadyApplied, $"bundle {current} (the same bytes) is already applied", current, _models.TitleCount);
            }

            if (manifest.Version <= current && !force)
            {
                return new(BundleResultKind.NotNewer, $"bundle version {manifest.Version} is not newer than the served version {current} (push with force to override)");
            }

            if (manifest.Full && models.Count == 0)
            {
                return new(BundleResultKind.Invalid, "a full bundle must hold at least one model");
            }

            if (_models.CheckSpaceFor(bytes.Length) is { } noSpace)
            {
                return new(BundleResultKind.Unavailable, noSpace);
            }

            return await ApplyVerifiedCoreAsync(manifest, models).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Applies models that were already verified (the built-in demo catalog, at start-up: blocks the calling thread).</summary>
    public BundleResult ApplyVerified(BundleManifest manifest, List<ReadOnlyMemory<byte>> models)
    {
        _gate.Wait();
        try
        {
            return ApplyVerifiedCoreAsync(manifest, models).GetAwaiter().GetResult();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Returns to the previous bundle, durably (blocks the calling thread: tools and tests; the admin API awaits <see cref="RollbackAsync"/>).</summary>
    public BundleResult Rollback() => RollbackAsync().GetAwaiter().GetResult();

    /// <summary>Returns to the previous bundle, durably; completes when it is durable, pending on the disk, or refused.</summary>
    public async Task<BundleResult> RollbackAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            var result = await _models.TryRollbackAsync(_writeTimeout).ConfigureAwait(false);
            return result.Status switch
            {
                StoreWriteStatus.Durable => new(BundleResultKind.RolledBack, "rolled back", _models.Version, _models.TitleCount),
                StoreWriteStatus.Nothing => new(BundleResultKind.NoPrevious, "no previous bundle to roll back to"),
                StoreWriteStatus.Pending => new(BundleResultKind.Pending, result.Reason ?? "models: rollback not durable yet"),
                _ => new(BundleResultKind.Unavailable, result.Reason ?? "models: not durable"),
            };
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Applies verified models (the caller holds <see cref="_gate"/>).</summary>
    private async Task<BundleResult> ApplyVerifiedCoreAsync(BundleManifest manifest, List<ReadOnlyMemory<byte>> models)
    {
        var (writer, busy) = await _models.TryBeginBundleAsync(manifest.Version, partial: !manifest.Full, _writeTimeout).ConfigureAwait(false);
        if (writer is null)
        {
            return new(BundleResultKind.Unavailable, busy ?? "models: the store is busy");
        }

        using (writer)
        {
            var defaults = new Dictionary<uint, uint>(models.Count);
            var validator = default(FullCheck);
            foreach (var blob in models)
            {
                ModelView.TryOpen(blob.Span, ModelCheck.Structure, out var view, out _);
                var title = view.TitleId;
                defaults[title] = view.DefaultImageId;
                if (!writer.TryAdd(title, blob.Span, ref validator))
                {
                    return new(BundleResultKind.Invalid, $"model of title {title} failed its check");
                }
            }

            var titles = manifest.Full ? writer.Count : writer.Count + CarriedOver(writer);
            var applied = new AppliedBundle
            {
                Version = manifest.Version,
                ParentVersion = manifest.ParentVersion,
                CreatedAtMs = manifest.CreatedAtMs,
                TrainingFromMs = manifest.TrainingFromMs,
                TrainingToMs = manifest.TrainingToMs,
                Full = manifest.Full,
                Titles = titles,
                AppliedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                Metrics = manifest.MetricsJson,
                KeyId = manifest.KeyId,
                Sha256 = manifest.Sha256,
            };
            List<AppliedBundle> history = [.. History.Where(b => b.Version != applied.Version).TakeLast(HistoryLength - 1), applied];
            writer.SetMetadata(HistorySlot, JsonSerializer.SerializeToUtf8Bytes(history, ServingJsonContext.Default.ListAppliedBundle));
            writer.SetMetadata(DefaultImages.Slot, DefaultImages.Encode(_defaults.MergedWith(defaults)));

            var result = await writer.CommitAsync(_writeTimeout, out var info).ConfigureAwait(false);
            return result.Status switch
            {
                StoreWriteStatus.Durable => new(BundleResultKind.Applied, "applied", info.Version, info.TitleCount),
                StoreWriteStatus.Pending => new(BundleResultKind.Pending, result.Reason ?? "models: not durable yet", manifest.Version),
                _ => new(BundleResultKind.Unavailable, result.Reason ?? "models: not durable"),
            };
        }
    }

    /// <summary>Reads the history from the store's metadata (empty if none or unreadable).</summary>
    private static List<AppliedBundle> ReadHistory(ModelStore models)
    {
        if (!models.TryGetMetadata(HistorySlot, out var bytes))
        {
            return [];
        }

        try
        {
            return JsonSerializer.Deserialize(bytes, ServingJsonContext.Default.ListAppliedBundle) ?? [];
        }
        catch (JsonException)
        {
            return []; // written by this class, inside a verified checkpoint: only a bug gets here
        }
    }

    private int CarriedOver(ModelBundleWriter writer)
    {
        using var snapshot = _models.AcquireSnapshot();
        var count = 0;
        foreach (var title in snapshot.TitleIds)
        {
            if (!writer.Contains(title))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>The store's last line of defence: the full model check again, and the blob's title must be the key's.</summary>
    private readonly struct FullCheck : IModelValidator
    {
        public bool Validate(uint titleId, ReadOnlySpan<byte> model) =>
            ModelView.TryOpen(model, ModelCheck.Full, out var view, out _) && view.TitleId == titleId;
    }
}
