using System.Buffers.Binary;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Fleet;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary>What every <c>--nats URL</c> command shares: connecting with a clear error, and running async code from a sync command.</summary>
internal static class FleetCli
{
    /// <summary>How long a command waits for the first NATS server of the list to answer.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Connects to <paramref name="url"/> or throws a <see cref="FleetException"/> that names it.</summary>
    public static FleetConnection Connect(string url, string client) =>
        FleetConnection.ConnectAsync(url, "edgesel-" + client, ConnectTimeout).GetAwaiter().GetResult();

    /// <summary>The version in a bundle's header (the server checks the signature and the rest).</summary>
    public static ulong BundleVersion(ReadOnlySpan<byte> bundle, string path) =>
        bundle.Length >= 16 && BinaryPrimitives.ReadUInt32LittleEndian(bundle) == ModelBundle.Magic
            ? BinaryPrimitives.ReadUInt64LittleEndian(bundle[8..])
            : throw new CommandInputException($"{path}: not a model bundle (no ESB1 header)");
}
