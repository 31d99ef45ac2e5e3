using System.Net;
using EdgeSelector.Protocol;

namespace EdgeSelector.Client;

/// <summary>Where the client connects and how it bounds each request.</summary>
public sealed class EdgeSelectorClientOptions
{
    /// <summary>The server's address (an <see cref="IPEndPoint"/> or <see cref="DnsEndPoint"/>).</summary>
    public required EndPoint EndPoint { get; init; }

    /// <summary>Connections in the pool; requests are spread over them round robin, each pipelining many requests.</summary>
    public int ConnectionCount
    {
        get;
        init => field = value is >= 1 and <= 1024 ? value : throw new ArgumentOutOfRangeException(nameof(ConnectionCount), value, "must be in [1, 1024]");
    } = 1;

    /// <summary>How long a request may wait for its response (including its turn to write) before it fails with <see cref="TimeoutException"/>.</summary>
    public TimeSpan RequestTimeout
    {
        get;
        init => field = value > TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(RequestTimeout), value, "must be positive");
    } = TimeSpan.FromSeconds(2);

    /// <summary>How long opening a connection may take.</summary>
    public TimeSpan ConnectTimeout
    {
        get;
        init => field = value > TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), value, "must be positive");
    } = TimeSpan.FromSeconds(5);

    /// <summary>Frame and page limits; must match the server's, or it will reject what this client sends.</summary>
    public ProtocolOptions Protocol { get; init; } = ProtocolOptions.Default;
}
