using EdgeSelector.Server.Configuration;
using EdgeSelector.Storage.Health;

namespace EdgeSelector.Server.Health;

/// <summary>
/// The node cannot start on this data directory (too little disk for its checkpoints, damaged files under
/// <c>OnDamage=Refuse</c>, a start-up write that the disk would not take): <c>Program</c> prints the one-line message
/// and exits with <see cref="ExitCode"/> instead of hanging or crashing (docs/reliability.md, "Exit codes").
/// </summary>
internal sealed class StartupRefusedException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The process exit code for a refused start.</summary>
    public const int ExitCode = 3;

    /// <summary>The room the stores' next checkpoints need: each hash index once, and 16 MB for log pages and commits.</summary>
    public static long CheckpointRoomBytes(EdgeSelectorOptions options) => ((long)options.ModelIndexMB + options.ProfileIndexMB + 16) << 20;

    /// <summary>
    /// Refuses to start when the data volume cannot hold the next checkpoint of each store: a FASTER checkpoint writes
    /// the whole hash index, so with less room the first checkpoint (the demo seed's, or the first push's) would wait
    /// for the disk forever (a 48 MB volume with the 64 MB default profile index did exactly that, silently).
    /// </summary>
    public static void CheckDiskSpace(EdgeSelectorOptions options)
    {
        var dataDir = Path.GetFullPath(options.DataDir);
        long need = CheckpointRoomBytes(options);
        if (DiskSpace.AvailableBytes(dataDir) is { } free && free < need)
        {
            throw new StartupRefusedException(
                $"not enough disk space for {dataDir}: {free >> 20} MB free, the stores' next checkpoints need at least {need >> 20} MB " +
                $"(model index {options.ModelIndexMB} MB + profile index {options.ProfileIndexMB} MB + 16 MB of logs); free space or lower " +
                "EdgeSelector:ProfileIndexMB / EdgeSelector:ModelIndexMB");
        }
    }
}
