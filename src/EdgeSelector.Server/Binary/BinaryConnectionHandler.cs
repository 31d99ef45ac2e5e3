using EdgeSelector.Protocol;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Serving;
using Microsoft.AspNetCore.Connections;

namespace EdgeSelector.Server.Binary;

/// <summary>
/// The binary protocol's front door (docs/protocol.md) on the pipelined-connection skeleton: per connection, a
/// <see cref="BinarySession"/> that parses frames and dispatches them, over a <see cref="ServingSession"/>. The
/// connection budget is a <see cref="ConnectionLimit"/> in front of it; timeouts and the loop are the skeleton's.
/// </summary>
internal sealed class BinaryConnectionHandler(
    SelectionService selection,
    RewardService rewards,
    ProtocolOptions protocol,
    ConnectionTimeouts timeouts,
    ConnectionHeartbeat heartbeat,
    Metrics.ServerMetrics metrics,
    TimeSpan rewardCommitTimeout)
{
    /// <summary>What a client over the budget reads before the close: ERROR <c>TooManyConnections</c>, request id 0.</summary>
    public static ReadOnlyMemory<byte> Refusal { get; } = ErrorFrame(ErrorCode.TooManyConnections);

    /// <summary>Kestrel's connection delegate: <c>listenOptions.Run(handler.OnConnectedAsync)</c>.</summary>
    public Task OnConnectedAsync(ConnectionContext connection)
    {
        var loop = new PipelinedConnection(connection, timeouts, heartbeat);
        var serving = new ServingSession(selection, rewards, protocol.MaxTitlesPerPage, rewardCommitTimeout, loop.Wake);
        return loop.RunAsync(new BinarySession(serving, loop.Output, protocol, metrics, timeouts.MaxInFlight));
    }

    private static byte[] ErrorFrame(ErrorCode code)
    {
        var writer = new System.Buffers.ArrayBufferWriter<byte>(64);
        FrameWriter.WriteError(writer, 0, code);
        return writer.WrittenSpan.ToArray();
    }
}
