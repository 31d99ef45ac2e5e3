using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Serving;
using Microsoft.AspNetCore.Connections;

namespace EdgeSelector.Server.Resp;

/// <summary>
/// The RESP front door (docs/resp.md), off unless <c>EdgeSelector:RespPort</c> is set, on the same
/// pipelined-connection skeleton as the binary protocol: per connection a <see cref="RespSession"/> over a
/// <see cref="ServingSession"/>, its own <see cref="ConnectionLimit"/> in front, the same timeouts and shedding.
/// </summary>
internal sealed class RespConnectionHandler(
    SelectionService selection,
    RewardService rewards,
    int maxTitlesPerPage,
    int maxCommandBytes,
    ConnectionTimeouts timeouts,
    ConnectionHeartbeat heartbeat,
    Metrics.ServerMetrics metrics,
    RespServerInfo info)
{
    private long _lastClientId;

    /// <summary>What a client over the budget reads before the close (Redis's own words).</summary>
    public static ReadOnlyMemory<byte> Refusal { get; } = "-ERR max number of clients reached\r\n"u8.ToArray();

    /// <summary>Kestrel's connection delegate: <c>listenOptions.Run(handler.OnConnectedAsync)</c>.</summary>
    public Task OnConnectedAsync(ConnectionContext connection)
    {
        var loop = new PipelinedConnection(connection, timeouts, heartbeat);
        // RESP takes no rewards: the serving session's durable replies stay empty.
        var serving = new ServingSession(selection, rewards, maxTitlesPerPage, TimeSpan.FromSeconds(1), loop.Wake);
        var clientId = Interlocked.Increment(ref _lastClientId); // CLIENT ID, HELLO's id: once per connection
        return loop.RunAsync(new RespSession(serving, loop.Output, metrics, maxTitlesPerPage, maxCommandBytes, timeouts.MaxInFlight, info, clientId));
    }
}
