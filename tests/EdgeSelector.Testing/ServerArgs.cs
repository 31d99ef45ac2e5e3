namespace EdgeSelector.Testing;

/// <summary>
/// The settings every test node starts with: its own ports and data directory, small stores and indexes (the machine running the
/// tests is small and runs several nodes), and deadlines generous enough for a loaded 2-core machine. A later
/// <c>--EdgeSelector:Key=value</c> in the same argument list overrides one of these.
/// </summary>
internal static class ServerArgs
{
    /// <summary>The admin token of the nodes the tests start (docs/security.md: never a production value).</summary>
    public const string Token = "integration-admin-token";

    /// <summary>The bundle signing key of the nodes the tests start.</summary>
    public const string BundleKey = "integration-bundle-key";

    /// <summary>Ports, data directory, store sizes and deadlines, without secrets.</summary>
    public static string[] Defaults(int binaryPort, int adminPort, string dataDir) =>
    [
        $"--EdgeSelector:BinaryPort={binaryPort}",
        $"--EdgeSelector:AdminPort={adminPort}",
        $"--EdgeSelector:DataDir={dataDir}",
        "--EdgeSelector:ModelMemoryMB=32",
        "--EdgeSelector:ProfileMemoryMB=32",
        "--EdgeSelector:ImpressionLogMemoryMB=8",
        // Small hash indexes: a checkpoint writes the whole index, and the demo's seeding checkpoints; with the default
        // 16 + 64 MB a node's first checkpoint on a loaded 2-core machine took longer than a write's timeout.
        "--EdgeSelector:ModelIndexMB=1",
        "--EdgeSelector:ProfileIndexMB=4",
        "--EdgeSelector:StoreWriteTimeoutSeconds=30",
        "--EdgeSelector:DeadlineMs=1000",
        "--EdgeSelector:MaxQueueDelayMs=10000",
    ];

    /// <summary><see cref="Defaults"/> with <paramref name="token"/> and <paramref name="bundleKey"/> on the command line.</summary>
    public static string[] WithSecrets(int binaryPort, int adminPort, string dataDir, string token = Token, string bundleKey = BundleKey) =>
        [.. Defaults(binaryPort, adminPort, dataDir), $"--EdgeSelector:AdminToken={token}", $"--EdgeSelector:BundleKey={bundleKey}"];
}
