using System.Collections.Frozen;
using System.Text.Json;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Storage.Models;

namespace EdgeSelector.Server.Rollout;

/// <summary>Verifying a candidate and keeping it (and its evidence) across restarts.</summary>
internal sealed partial class RolloutService
{
    private string CandidatePath => Path.Combine(_directory, "candidate.esb");

    private string StatePath => Path.Combine(_directory, "state.json");

    // The checks of PUT /v1/models (signature, every model fully, no duplicate title, a full bundle is not empty),
    // then a copy of each model the request path reads in place.
    private bool TryLoad(ReadOnlyMemory<byte> bytes, out BundleManifest manifest, out FrozenDictionary<uint, byte[]> models, out int status, out string message)
    {
        models = FrozenDictionary<uint, byte[]>.Empty;
        var error = ModelBundle.TryRead(bytes, _bundleKey, out manifest, out var blobs, out var detail);
        if (error != BundleError.None)
        {
            status = error is BundleError.Unsigned or BundleError.BadSignature ? 403 : 422;
            message = $"{error}: {detail}";
            return false;
        }

        if (manifest.Full && blobs.Count == 0)
        {
            status = 422;
            message = "a full bundle must hold at least one model";
            return false;
        }

        var byTitle = new Dictionary<uint, byte[]>(blobs.Count);
        foreach (var blob in blobs)
        {
            if (!ModelView.TryOpen(blob.Span, ModelCheck.Full, out var view, out var modelError))
            {
                status = 422;
                message = $"a model of the candidate fails its check: {modelError}";
                return false;
            }

            if (!byTitle.TryAdd(view.TitleId, blob.ToArray()))
            {
                status = 422;
                message = $"title {view.TitleId} appears twice in the candidate";
                return false;
            }
        }

        models = byTitle.ToFrozenDictionary();
        status = 200;
        message = string.Empty;
        return true;
    }

    // Every candidate model must expect the feature vector the active bundle's model of the same title expects (and,
    // for titles the active bundle lacks, the one its first title expects): the serving encoder is shared.
    private bool SameFeatureSpace(FrozenDictionary<uint, byte[]> models, out string message)
    {
        using var snapshot = _models.AcquireSnapshot();
        FeatureSpace? reference = null;
        if (snapshot.TitleCount > 0)
        {
            var first = default(SchemaVisitor);
            if (snapshot.TryRead(snapshot.TitleIds[0], ref first) && first.Found)
            {
                reference = first.Space;
            }
        }

        foreach (var (title, blob) in models)
        {
            ModelView.TryOpen(blob, ModelCheck.Structure, out var view, out _);
            var visitor = default(SchemaVisitor);
            var expected = snapshot.TryRead(title, ref visitor) && visitor.Found ? visitor.Space : reference;
            if (expected is { } space && view.FeatureSpace != space)
            {
                message = $"candidate title {title} has feature schema {Describe(view.FeatureSpace)} but the active bundle {_models.Version} has {Describe(space)}: a candidate must use the active bundle's feature schema";
                return false;
            }
        }

        message = string.Empty;
        return true;
    }

    private static string Describe(FeatureSpace space) => $"(schema {space.SchemaVersion}, d={space.Dimension}, seed=0x{space.HashSeed:X8})";

    // Durable before the push is answered: the bundle file (fsync, rename), then the state naming it.
    private void SaveCandidate(CandidateBundle candidate) => WriteDurably(CandidatePath, candidate.Bytes);

    // Under _gate (or in the constructor): the candidate, a pending promotion and the decisions, durably.
    private void SaveState()
    {
        var candidate = _current;
        var pending = _pendingPromotion;
        var state = new RolloutStateFile
        {
            NextId = _nextId,
            Decisions = _decisions,
            Candidate = candidate is null ? null : StateOf(candidate),
            PendingPromotion = pending is null ? null : new PendingPromotionState
            {
                Candidate = pending.Candidate with { Control = Dto(pending.Counters.Read(Arm.Control)), Candidate = Dto(pending.Counters.Read(Arm.Candidate)) },
                By = pending.By,
                Reason = pending.Reason,
            },
        };
        WriteDurably(StatePath, JsonSerializer.SerializeToUtf8Bytes(state, RolloutJsonContext.Default.RolloutStateFile));
    }

    private static CandidateState StateOf(CandidateBundle candidate) => new()
    {
        Id = candidate.Id,
        Version = candidate.Version,
        Fraction = candidate.Split.Fraction,
        StartedAtMs = candidate.StartedAtMs,
        Fleet = candidate.Fleet,
        Control = Dto(candidate.Counters.Read(Arm.Control)),
        Candidate = Dto(candidate.Counters.Read(Arm.Candidate)),
    };

    private static RolloutCounters CountersOf(CandidateState saved)
    {
        var counters = new RolloutCounters();
        counters.Restore(Arm.Control, Counts(saved.Control));
        counters.Restore(Arm.Candidate, Counts(saved.Candidate));
        return counters;
    }

    private void DeleteCandidateFile()
    {
        try
        {
            File.Delete(CandidatePath);
        }
        catch (IOException)
        {
            // The state no longer names it; a stale file is ignored at the next start.
        }
    }

    // At start: the candidate the state names, verified again (signature, every model, feature space) with its
    // evidence; a candidate the active bundle caught up with meanwhile is ended at the first evaluation. A pending
    // promotion is restored as it was saved (its version, evidence, by and reason: the model store, not the bundle
    // file, decides how it ends) and finished by the first evaluation. A state file written before pending promotions
    // were persisted has no such field: nothing is pending.
    private void Restore()
    {
        if (!File.Exists(StatePath))
        {
            return;
        }

        var state = JsonSerializer.Deserialize(File.ReadAllBytes(StatePath), RolloutJsonContext.Default.RolloutStateFile) ?? new RolloutStateFile();
        _nextId = Math.Max(1, state.NextId);
        _decisions = state.Decisions;
        if (state.PendingPromotion is { } promotion)
        {
            _pendingPromotion = new PendingPromotion(promotion.Candidate, CountersOf(promotion.Candidate), promotion.By, promotion.Reason, Restored: true);
            _resumed = $"the promotion of candidate {promotion.Candidate.Version} ({promotion.By}) was pending on the model store at the stop; the first evaluation finishes it";
        }

        if (state.Candidate is not { } saved)
        {
            return;
        }

        string? problem = null;
        if (!File.Exists(CandidatePath))
        {
            problem = "its bundle file is missing";
        }
        else if (!TryLoad(File.ReadAllBytes(CandidatePath), out var manifest, out var models, out _, out var message))
        {
            problem = message;
        }
        else if (manifest.Version != saved.Version)
        {
            problem = $"the bundle file holds version {manifest.Version}";
        }
        else if (!SameFeatureSpace(models, out message))
        {
            problem = message;
        }
        else
        {
            _events = new RecentEvents(_options.RecentEvents);
            _current = new CandidateBundle(saved.Id, manifest, File.ReadAllBytes(CandidatePath), models, saved.Fraction, saved.StartedAtMs, CountersOf(saved), saved.Fleet);
            _resumed = $"candidate {saved.Version} for {saved.Fraction} of members, {saved.Candidate.Impressions} candidate and {saved.Control.Impressions} control impressions so far";
            return;
        }

        AddDecision(new RolloutDecision
        {
            AtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Action = "dropped",
            CandidateVersion = saved.Version,
            ActiveVersion = _models.Version,
            Reason = $"candidate {saved.Version} not resumed after restart: {problem}",
        });
        SaveState();
    }

    private static ArmCountsDto Dto(ArmCounts counts) =>
        new() { Impressions = counts.Impressions, Fallbacks = counts.Fallbacks, Rewards = counts.Rewards, Takes = counts.Takes };

    private static ArmCounts Counts(ArmCountsDto dto) => new(dto.Impressions, dto.Fallbacks, dto.Rewards, dto.Takes);

    private static void WriteDurably(string path, byte[] bytes)
    {
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Reads the feature space of an active model (declared as a model-store reader in NodeStores).</summary>
    internal struct SchemaVisitor : IModelVisitor
    {
        public FeatureSpace Space;
        public bool Found;

        public void Visit(uint titleId, ReadOnlySpan<byte> model)
        {
            if (ModelView.TryOpen(model, ModelCheck.Structure, out var view, out _))
            {
                Space = view.FeatureSpace;
                Found = true;
            }
        }
    }
}
