namespace EdgeSelector.Storage;

/// <summary>
/// The outcome of a write that must be durable before it is acknowledged (a bundle push, a rollback, a profile
/// import). The HTTP layer maps it to a status code (docs/admin-api.md); docs/reliability.md says what each means.
/// </summary>
public enum StoreWriteStatus
{
    /// <summary>Written and checkpointed: survives kill -9.</summary>
    Durable,

    /// <summary>
    /// Not durable within the time allowed (the disk is full or failing): the write waits for the disk in the
    /// background and takes effect only once durable. The caller should retry later; the write is idempotent.
    /// </summary>
    Pending,

    /// <summary>Refused before anything was written: another write still waits for the disk, or the disk is known to be full.</summary>
    Busy,

    /// <summary>Failed and undone: nothing changed.</summary>
    Failed,

    /// <summary>Nothing to do (a rollback with no previous bundle).</summary>
    Nothing,
}

/// <summary>A <see cref="StoreWriteStatus"/> and, unless durable, why (one line for a person).</summary>
/// <param name="Status">The outcome.</param>
/// <param name="Reason">Why it was not durable, or null.</param>
public readonly record struct StoreWriteResult(StoreWriteStatus Status, string? Reason)
{
    /// <summary>The write is durable.</summary>
    public bool IsDurable => Status == StoreWriteStatus.Durable;

    internal static StoreWriteResult Durable => new(StoreWriteStatus.Durable, null);
}
