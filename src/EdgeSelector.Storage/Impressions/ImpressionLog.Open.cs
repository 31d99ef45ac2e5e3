using EdgeSelector.Storage.Health;
using FASTER.core;

namespace EdgeSelector.Storage.Impressions;

/// <summary>Opening: recover the last commit, check the files against it, and deal with damage (docs/reliability.md).</summary>
public sealed partial class ImpressionLog
{
    /// <summary>
    /// Recovers the log and checks it (<see cref="ImpressionLogFiles.Check"/>). On damage, with
    /// <see cref="DamagePolicy.Quarantine"/>, the whole directory is moved aside and a new log starts at the next
    /// segment boundary above everything the old one held, so a reader's saved position (the trainer's) never points
    /// into the new log's past; with <see cref="DamagePolicy.Refuse"/> the damage is thrown.
    /// </summary>
    private StoreOpenReport OpenChecked(DamagePolicy policy)
    {
        bool existed = ImpressionLogFiles.HasSegmentData(_root) || Directory.Exists(ImpressionLogFiles.CommitDirectory(_root));
        var checksum = ImpressionLogFiles.ReadOrCreateFormat(_root, create: true, out var formatProblem, out var repaired);
        LogDamagedException? damage = null;
        if (formatProblem is not null)
        {
            damage = new LogDamagedException(_root, -1, formatProblem);
        }
        else
        {
            try
            {
                OpenFaster(checksum, recover: true);
                damage = ImpressionLogFiles.Check(_root, _log, _log.BeginAddress, _segmentBytes) ?? VerifyTailOnDisk(checksum);
            }
            catch (FasterException e)
            {
                damage = new LogDamagedException(_root, -1, $"{_root}: FASTER could not recover the log ({e.Message})", e);
            }
        }

        if (damage is null)
        {
            var entries = $"{Name} log: committed entries from address {_log.BeginAddress} to {_log.CommittedUntilAddress}{(repaired is null ? string.Empty : $" ({repaired})")}";
            return !existed
                ? new StoreOpenReport(Name, StoreOpenOutcome.Created, $"{Name} log: new, in {_root}")
                : checksum == LogChecksumType.PerEntry
                    ? new StoreOpenReport(Name, StoreOpenOutcome.Recovered, $"{entries}; tail checksums verified")
                    : new StoreOpenReport(Name, StoreOpenOutcome.RecoveredUnverified, $"{entries}; written without checksums (older version), not verified");
        }

        var opened = (FasterLog?)_log;
        long recoveredTail = opened is null ? 0 : Math.Max(opened.TailAddress, opened.CommittedUntilAddress);
        CloseFaster();
        if (policy == DamagePolicy.Refuse)
        {
            throw damage;
        }

        // Restart above every address the old log used (its segment files included): positions stay monotonic.
        long end = Math.Max(
            Math.Max(ImpressionLogFiles.FirstAddress, recoveredTail),
            ImpressionLogFiles.SegmentFiles(_root).Select(s => (s.Index * _segmentBytes) + s.Length).DefaultIfEmpty(0).Max());
        long restartAt = (end + _segmentBytes - 1) / _segmentBytes * _segmentBytes;
        var movedTo = Quarantine.MoveAside(_root);
        checksum = ImpressionLogFiles.ReadOrCreateFormat(_root, create: true, out _);
        OpenFaster(checksum, recover: false);
        _log.Initialize(restartAt, restartAt, 0);
        _log.Commit(spinWait: true); // a commit record at once: a crash now must not restart the log at address 64
        return new StoreOpenReport(
            Name,
            StoreOpenOutcome.Quarantined,
            $"{Name} log damaged: {damage.Message}. The whole log was moved to {movedTo} (kept, not read by the server); a new log starts at address {restartAt}")
        {
            QuarantinedTo = movedTo,
        };
    }

    /// <summary>
    /// Reads the committed tail back from disk through a read-only view and checks every entry's checksum (the writer's
    /// own recovery keeps the tail page in memory, where FasterLog does not verify). Null if the tail is whole.
    /// </summary>
    private LogDamagedException? VerifyTailOnDisk(LogChecksumType checksum)
    {
        if (checksum != LogChecksumType.PerEntry || !ImpressionLogFiles.HasSegmentData(_root) || !Directory.Exists(ImpressionLogFiles.CommitDirectory(_root)))
        {
            return null;
        }

        try
        {
            using var view = ImpressionLogSnapshotReader.Open(_root, _pageBytes, _segmentBytes);
            // From the writer's recovered begin: segment files below it may still be on disk, half deleted.
            long from = Math.Max(_log.BeginAddress, (view.CommittedUntilAddress - ImpressionLogFiles.TailVerifyBytes) / _pageBytes * _pageBytes);
            view.ReadFrom(from, default(SkipEntries));
            return null;
        }
        catch (LogDamagedException e)
        {
            return e;
        }
    }

    private void OpenFaster(LogChecksumType checksum, bool recover)
    {
        Directory.CreateDirectory(ImpressionLogFiles.SegmentDirectory(_root));
        _device = ImpressionLogFiles.OpenDevice(_root, Health);
        try
        {
            using var settings = new FasterLogSettings
            {
                LogDevice = _device,
                MemorySize = _memoryBytes,
                PageSize = _pageBytes,
                SegmentSize = _segmentBytes,
                LogCommitManager = ImpressionLogFiles.CommitManager(_root, Health, readOnly: false),
                LogChecksum = checksum,
                TryRecoverLatest = recover,
            };
            _log = new FasterLog(settings);
        }
        catch
        {
            _device.Dispose();
            throw;
        }
    }

    private void CloseFaster()
    {
        _log?.Dispose();
        _device?.Dispose();
    }

    private readonly struct SkipEntries : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
        }
    }
}
