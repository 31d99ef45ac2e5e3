namespace EdgeSelector.Server.Serving;

/// <summary>What became of a push or rollback; the admin API maps each to an HTTP status (docs/admin-api.md).</summary>
internal enum BundleResultKind
{
    /// <summary>Applied and durable.</summary>
    Applied,

    /// <summary>The same bundle (same bytes) is already the active one: nothing to do.</summary>
    AlreadyApplied,

    /// <summary>Rolled back, durably.</summary>
    RolledBack,

    /// <summary>Unsigned or signed with another key.</summary>
    Unauthenticated,

    /// <summary>A model or the bundle format is invalid.</summary>
    Invalid,

    /// <summary>The version is not newer than the served one (and the push did not force it).</summary>
    NotNewer,

    /// <summary>A rollback with no previous bundle.</summary>
    NoPrevious,

    /// <summary>
    /// Written, not yet durable within the time allowed: the model store finishes the write in the background and the
    /// bundle becomes active only once the disk takes it (or the store undoes it). Answered like <see cref="Unavailable"/>
    /// (retry; a retry of the same bytes is answered <see cref="AlreadyApplied"/> once it took effect); the rollout's
    /// promotion waits for it (docs/rollout.md).
    /// </summary>
    Pending,

    /// <summary>Refused or not made durable in time because of the disk (full, failing, or an earlier write still waiting): nothing was written; retry.</summary>
    Unavailable,
}

/// <summary>The outcome of a push or rollback: what happened, a message for a person, and the bundle now served.</summary>
internal readonly record struct BundleResult(BundleResultKind Kind, string Message, ulong Version = 0, int Titles = 0)
{
    /// <summary>True for the outcomes that changed (or confirmed) what is served.</summary>
    public bool Ok => Kind is BundleResultKind.Applied or BundleResultKind.AlreadyApplied or BundleResultKind.RolledBack;
}
