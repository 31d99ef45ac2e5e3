namespace EdgeSelector.Storage.Health;

/// <summary>What a store found when it opened its files (docs/reliability.md, "Damaged files").</summary>
public enum StoreOpenOutcome
{
    /// <summary>No files yet: a new, empty store.</summary>
    Created,

    /// <summary>The files were checked and the store recovered its last durable state.</summary>
    Recovered,

    /// <summary>Recovered, but the files carry no checksums to check (written by an older version).</summary>
    RecoveredUnverified,

    /// <summary>The newest checkpoint was damaged; the one before it was recovered (the last change is lost).</summary>
    RecoveredEarlier,

    /// <summary>
    /// Every recorded index checkpoint was damaged but a hybrid-log checkpoint and the log verified: that checkpoint was
    /// recovered with its index rebuilt by a scan of the log, and a fresh full checkpoint taken (the profile store).
    /// </summary>
    RecoveredFromLog,

    /// <summary>The files were damaged: they were moved aside and the store started from its last good state (often empty).</summary>
    Quarantined,
}

/// <summary>What to do when a store's files are damaged at start-up.</summary>
public enum DamagePolicy
{
    /// <summary>Move the damaged files aside (kept for inspection), start from the last good state, report it.</summary>
    Quarantine,

    /// <summary>Throw <see cref="StoreDamagedException"/> naming the file: the caller refuses to start.</summary>
    Refuse,
}

/// <summary>The outcome of opening one store, for the start-up log and the health report.</summary>
/// <param name="Store">The store's name ("models", "profiles", "impressions", "rewards").</param>
/// <param name="Outcome">What was found.</param>
/// <param name="Message">One line for a person: the files, what was kept, what was lost.</param>
public sealed record StoreOpenReport(string Store, StoreOpenOutcome Outcome, string Message)
{
    /// <summary>Where the damaged files were moved (null unless <see cref="StoreOpenOutcome.Quarantined"/>).</summary>
    public string? QuarantinedTo { get; init; }

    /// <summary>True when damage was found.</summary>
    public bool IsDamaged => Outcome is StoreOpenOutcome.Quarantined or StoreOpenOutcome.RecoveredEarlier or StoreOpenOutcome.RecoveredFromLog;
}

/// <summary>A store or log file is damaged (missing, truncated, emptied or failing its checksum). The message names the file.</summary>
public class StoreDamagedException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    public StoreDamagedException(string path, string message, Exception? inner = null)
        : base(message, inner)
    {
        FilePath = path;
    }

    /// <summary>The damaged file (or the store directory when the damage is not one file's).</summary>
    public string FilePath { get; }
}

/// <summary>
/// A log (impressions, rewards) is damaged: an entry fails its checksum, a segment file is missing or short, or the
/// commit record is unreadable. Thrown by the readers <c>edgesel train</c> uses; the message names the file and address.
/// </summary>
public sealed class LogDamagedException : StoreDamagedException
{
    /// <summary>Creates the exception for the entry at <paramref name="address"/> in <paramref name="path"/>.</summary>
    public LogDamagedException(string path, long address, string message, Exception? inner = null)
        : base(path, message, inner)
    {
        Address = address;
    }

    /// <summary>Log address of the first damaged entry (or of the missing range); -1 when not known.</summary>
    public long Address { get; }
}
