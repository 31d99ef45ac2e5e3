using System.Diagnostics;
using EdgeSelector.Server.Configuration;

namespace EdgeSelector.Server.Connections;

/// <summary>
/// The timeouts of the pipelined front doors, in Stopwatch ticks (docs/protocol.md#limits): idle (no whole request),
/// frame (a request that started and did not finish), write (answers the client does not read). The same for every
/// TCP port.
/// </summary>
internal sealed class ConnectionTimeouts
{
    public ConnectionTimeouts(EdgeSelectorOptions options)
    {
        IdleTicks = Ticks(options.IdleTimeoutSeconds);
        FrameTicks = Ticks(options.FrameTimeoutSeconds);
        WriteTicks = IdleTicks;
        MaxInFlight = options.MaxInFlightPerConnection;
    }

    /// <summary>No whole request for this long: close with an idle timeout.</summary>
    public long IdleTicks { get; }

    /// <summary>A request's first byte came this long ago and the request is still not whole: close.</summary>
    public long FrameTicks { get; }

    /// <summary>A flush has waited this long for the client to read: abort the connection.</summary>
    public long WriteTicks { get; }

    /// <summary>Requests answered per batch before the skeleton flushes and lets the client read.</summary>
    public int MaxInFlight { get; }

    private static long Ticks(double seconds) => (long)Math.Min(long.MaxValue / 4, seconds * Stopwatch.Frequency);
}
