namespace EdgeSelector.Server.Diagnostics;

/// <summary>
/// Every event the node logs (docs/operations.md, "Logging"), as source-generated <see cref="LoggerMessageAttribute"/>
/// methods: no boxing or formatting unless the level is enabled, and a stable event id and named fields per event for
/// the JSON console formatter. Rules: operator-visible events only (never one per request on the serving path), and
/// never a secret (tokens and keys are not parameters of any method here).
/// Event ids: 1xxx lifecycle, 2xxx admin API and authentication, 3xxx bundles, 4xxx stores and logs.
/// </summary>
internal static partial class NodeLog
{
    /// <summary>Category of lifecycle events (start, stop, recovery, seeding).</summary>
    public const string Host = "EdgeSelector.Server";

    /// <summary>Category of admin API events (authentication, profile imports, checkpoints on request, bundles).</summary>
    public const string Admin = "EdgeSelector.Server.Admin";

    /// <summary>Category of store and log events (checkpoints, rotation, health).</summary>
    public const string Storage = "EdgeSelector.Server.Storage";

    // 1xxx: lifecycle
    [LoggerMessage(1000, LogLevel.Information, "Serving: binary protocol on {Address}:{BinaryPort}, RESP on {RespPort} (0 = off), admin API on {AdminPort}; data in {DataDir}; bundle {BundleVersion} with {Titles} titles; policy {Policy}; node id {NodeId}; int8 scoring with {Int8Kernel}")]
    public static partial void Started(ILogger logger, string address, int binaryPort, int respPort, int adminPort, string dataDir, ulong bundleVersion, int titles, string policy, int nodeId, string int8Kernel);

    [LoggerMessage(1001, LogLevel.Information, "Stopping: connections are told to go away, then the stores checkpoint and close")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(1002, LogLevel.Information, "Stopped: stores checkpointed and closed in {DurationMs} ms")]
    public static partial void Stopped(ILogger logger, long durationMs);

    [LoggerMessage(1010, LogLevel.Information, "Recovered the model store from {Directory}: bundle {BundleVersion} with {Titles} titles (previous {PreviousVersion})")]
    public static partial void ModelsRecovered(ILogger logger, string directory, ulong bundleVersion, int titles, ulong previousVersion);

    [LoggerMessage(1011, LogLevel.Information, "Recovered the profile store from {Directory}: log {HeadAddress}..{TailAddress}")]
    public static partial void ProfilesRecovered(ILogger logger, string directory, long headAddress, long tailAddress);

    [LoggerMessage(1012, LogLevel.Information, "Recovered the {Log} log: addresses {BeginAddress}..{TailAddress}, committed to {CommittedAddress}")]
    public static partial void LogRecovered(ILogger logger, string log, long beginAddress, long tailAddress, long committedAddress);

    [LoggerMessage(1013, LogLevel.Information, "Seeded the {Catalog} catalog into the empty store: {Titles} titles, {Members} member profiles")]
    public static partial void Seeded(ILogger logger, string catalog, int titles, int members);

    // 2xxx: admin API and authentication
    [LoggerMessage(1020, LogLevel.Warning, "Event tags use the node-local key {KeyPath}; every node of a fleet must share one key: give them all the same EventKeyFile or EventKey (docs/protocol.md, \"Event ids and tags\")")]
    public static partial void EventKeyNodeLocal(ILogger logger, string keyPath);

    [LoggerMessage(2000, LogLevel.Warning, "Admin call refused (401): {Reason}; {Method} {Path} from {RemoteAddress} ({Suppressed} more refusals since the last one logged)")]
    public static partial void AuthenticationFailed(ILogger logger, string reason, string method, string path, string remoteAddress, long suppressed);

    [LoggerMessage(2010, LogLevel.Information, "Imported {Count} member profiles through the admin API")]
    public static partial void ProfilesImported(ILogger logger, int count);

    [LoggerMessage(2011, LogLevel.Warning, "Profile import refused ({Status}): {Reason}")]
    public static partial void ProfileImportRefused(ILogger logger, int status, string reason);

    [LoggerMessage(2020, LogLevel.Information, "Checkpoint on admin request: stores checkpointed and logs committed in {DurationMs} ms")]
    public static partial void CheckpointRequested(ILogger logger, long durationMs);

    [LoggerMessage(2021, LogLevel.Error, "Checkpoint on admin request failed: {Reason}")]
    public static partial void CheckpointRequestFailed(ILogger logger, string reason);

    [LoggerMessage(2030, LogLevel.Debug, "Recorded a batch of {Count} rewards through the admin API")]
    public static partial void RewardsRecorded(ILogger logger, int count);

    [LoggerMessage(2031, LogLevel.Warning, "Reward batch refused ({Status}): {Reason}")]
    public static partial void RewardsRefused(ILogger logger, int status, string reason);

    // 3xxx: bundles
    [LoggerMessage(3000, LogLevel.Information, "Bundle {Version} pushed and active: {Titles} titles, {Kind}, signed by key '{KeyId}', sha256 {Sha256}, force {Force}")]
    public static partial void BundleApplied(ILogger logger, ulong version, int titles, string kind, string keyId, string sha256, bool force);

    [LoggerMessage(3001, LogLevel.Warning, "Bundle push refused ({Status}): {Reason}; still serving bundle {ServedVersion}")]
    public static partial void BundleRefused(ILogger logger, int status, string reason, ulong servedVersion);

    [LoggerMessage(3002, LogLevel.Information, "Rolled back from bundle {FromVersion} to bundle {ToVersion} ({Titles} titles)")]
    public static partial void BundleRolledBack(ILogger logger, ulong fromVersion, ulong toVersion, int titles);

    [LoggerMessage(3003, LogLevel.Warning, "Rollback refused ({Status}): {Reason}; still serving bundle {ServedVersion}")]
    public static partial void RollbackRefused(ILogger logger, int status, string reason, ulong servedVersion);

    [LoggerMessage(3010, LogLevel.Information, "Rollout {Action} ({By}): candidate {CandidateVersion}, active {ActiveVersion}: {Reason}")]
    public static partial void RolloutDecision(ILogger logger, string action, string by, ulong candidateVersion, ulong activeVersion, string reason);

    [LoggerMessage(3011, LogLevel.Information, "Rollout resumed: {Summary}")]
    public static partial void RolloutResumed(ILogger logger, string summary);

    // 4xxx: stores and logs
    [LoggerMessage(4001, LogLevel.Error, "Checkpoint of the {Store} store failed: {Reason}")]
    public static partial void CheckpointFailed(ILogger logger, string store, string reason);

    [LoggerMessage(4010, LogLevel.Information, "The {Log} log rotated: {Segments} old segment(s) dropped (LogRetentionMB), now addresses {BeginAddress}..{TailAddress}")]
    public static partial void LogRotated(ILogger logger, string log, long segments, long beginAddress, long tailAddress);
}
