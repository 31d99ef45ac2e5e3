using EdgeSelector.Storage.Health;

namespace EdgeSelector.Storage.Internal;

/// <summary>The pieces of a FasterKV store that <see cref="KvOpen"/> creates, recovers and throws away.</summary>
internal interface IKvLifecycle
{
    /// <summary>The store's checkpoints and integrity records (valid after <see cref="Create"/>).</summary>
    KvCheckpoints Checkpoints { get; }

    /// <summary>Creates the device, the FasterKV instance and its sessions over the store directory (nothing recovered).</summary>
    void Create();

    /// <summary>Disposes what <see cref="Create"/> made and forgets every in-memory state.</summary>
    void Destroy();

    /// <summary>Recovers the given checkpoint and the store's own state from it; throws if it cannot.</summary>
    void Recover(Guid indexToken, Guid logToken);

    /// <summary>Recovers FASTER's latest checkpoint (a store written before integrity records existed).</summary>
    void RecoverLatest();

    /// <summary>What was recovered, for the report ("bundle 12 with 500 titles", "1000 profiles").</summary>
    string Describe();

    /// <summary>
    /// True if <see cref="Recover"/> takes an empty index token: the hybrid-log checkpoint alone, FASTER rebuilding the
    /// index by scanning the log (the profile store, whose many log-only checkpoints share one index checkpoint).
    /// </summary>
    bool RecoversWithoutIndex => false;
}

/// <summary>
/// Opening a FasterKV store safely (docs/reliability.md, "Damaged files"): recover the newest checkpoint whose files
/// all match their integrity record, else the one before it; a store with no records (older version) is recovered as
/// FASTER finds it and reported unverified; a store that <see cref="IKvLifecycle.RecoversWithoutIndex"/> (profiles)
/// whose index checkpoints are all damaged recovers the newest hybrid-log checkpoint whose files verify, the index
/// rebuilt from the log (<see cref="StoreOpenOutcome.RecoveredFromLog"/>); if nothing can be recovered the directory is moved aside and the store
/// starts empty (<see cref="DamagePolicy.Quarantine"/>) or the damage is thrown (<see cref="DamagePolicy.Refuse"/>).
/// </summary>
internal static class KvOpen
{
    public static StoreOpenReport Open(string name, string root, DamagePolicy policy, IKvLifecycle store)
    {
        store.Create();
        var checkpoints = store.Checkpoints;
        if (!checkpoints.HasFiles)
        {
            return new StoreOpenReport(name, StoreOpenOutcome.Created, $"{name}: new, in {root}");
        }

        string? problem = null;
        if (checkpoints.HasRecords)
        {
            int tried = 0;
            foreach (var candidate in checkpoints.Verify())
            {
                tried++;
                if (candidate.Problem is not null)
                {
                    problem ??= candidate.Problem;
                    continue;
                }

                if (TryRecover(store, () => store.Recover(candidate.IndexToken, candidate.LogToken), ref problem))
                {
                    checkpoints.Adopt(candidate);
                    var unrecorded = checkpoints.UnrecordedCheckpoints();
                    if (tried == 1 && unrecorded.Count > 0)
                    {
                        return new StoreOpenReport(
                            name,
                            StoreOpenOutcome.RecoveredEarlier,
                            $"{name}: recovered the last verified checkpoint ({store.Describe()}); {unrecorded.Count} later checkpoint(s) without an integrity record were not recovered ({string.Join(", ", unrecorded)}): a crash between a checkpoint and its record (that write was never acknowledged), or a deleted record");
                    }

                    return tried == 1
                        ? new StoreOpenReport(name, StoreOpenOutcome.Recovered, $"{name}: checkpoint verified and recovered: {store.Describe()}")
                        : new StoreOpenReport(name, StoreOpenOutcome.RecoveredEarlier, $"{name}: the newest checkpoint is damaged ({problem}); recovered the one before it: {store.Describe()}");
                }
            }

            problem ??= "no integrity record could be verified";
            if (store.RecoversWithoutIndex && TryRecoverFromLog(name, store, checkpoints, problem) is { } fromLog)
            {
                return fromLog;
            }
        }
        else if (TryRecover(store, store.RecoverLatest, ref problem))
        {
            return new StoreOpenReport(name, StoreOpenOutcome.RecoveredUnverified, $"{name}: recovered without verification (no integrity record: written by an older version): {store.Describe()}");
        }

        store.Destroy();
        if (policy == DamagePolicy.Refuse)
        {
            throw new StoreDamagedException(root, $"{name} store damaged: {problem}");
        }

        var movedTo = Quarantine.MoveAside(root);
        store.Create();
        return new StoreOpenReport(name, StoreOpenOutcome.Quarantined, $"{name} store damaged: {problem}. Its files were moved to {movedTo} (kept, not read); the store starts empty")
        {
            QuarantinedTo = movedTo,
        };
    }

    // No recorded checkpoint verified whole: the newest one whose hybrid-log checkpoint and log segments verify (only its
    // index checkpoint damaged, often the one index checkpoint every log-only checkpoint shares) is recovered without
    // the index, which FASTER rebuilds by scanning the log from its begin address.
    private static StoreOpenReport? TryRecoverFromLog(string name, IKvLifecycle store, KvCheckpoints checkpoints, string problem)
    {
        int tried = 0;
        string? logProblem = null;
        foreach (var candidate in checkpoints.VerifyLogs())
        {
            tried++;
            if (candidate.Problem is not null
                || !TryRecover(store, () => store.Recover(Guid.Empty, candidate.LogToken), ref logProblem))
            {
                continue;
            }

            checkpoints.Adopt(candidate);
            var which = tried == 1 ? "the newest checkpoint" : "an earlier checkpoint (the newest one's log is damaged too)";
            return new StoreOpenReport(
                name,
                StoreOpenOutcome.RecoveredFromLog,
                $"{name}: the index checkpoint is damaged ({problem}); recovered {which} from its hybrid log, the index rebuilt by a scan of the log: {store.Describe()}");
        }

        return null;
    }

    private static bool TryRecover(IKvLifecycle store, Action recover, ref string? problem)
    {
        try
        {
            recover();
            return true;
        }
#pragma warning disable CA1031 // FASTER fails on damaged files in many ways (FasterException, IOException, index out of range...): each is damage.
        catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            problem ??= $"recovery failed: {e.GetType().Name}: {e.Message}";
            store.Destroy();
            store.Create();
            return false;
        }
    }
}
