using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EdgeSelector.Testing;

/// <summary>
/// Free loopback ports for the servers tests start, never the same one twice in this process, and outside the kernel's
/// ephemeral range: a port taken from that range (a listener on port 0) is free only until the server binds it, and
/// meanwhile any outgoing connection on the machine (this process's clients and NATS connections, other test runs)
/// can be given it as its local port; CI once saw a node fail with "address already in use" that way. Below the
/// range only listeners compete, and each port is checked by binding it before it is handed out.
/// </summary>
internal static class FreePorts
{
    private const int LowestPort = 10_000;
    private static readonly ConcurrentDictionary<int, byte> Given = new();
    private static readonly (int First, int End) Range = NonEphemeralRange();

    /// <summary>A loopback port nothing listens on now and this process has not been given before.</summary>
    public static int Next()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(Range.First, Range.End);
            if (!Given.TryAdd(port, 0))
            {
                continue;
            }

            if (IsFree(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"no free loopback port in {Range.First}..{Range.End - 1} after 200 attempts");
    }

    /// <summary><see cref="Next"/> under the name the tests call it by (imported with <c>using static</c>).</summary>
    public static int FreePort() => Next();

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    // [10000, first ephemeral port) from /proc/sys/net/ipv4/ip_local_port_range (Linux's default first is 32768).
    private static (int First, int End) NonEphemeralRange()
    {
        var end = 32_768;
        try
        {
            var fields = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 0 && int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var first))
            {
                end = first;
            }
        }
        catch (IOException)
        {
            // Not Linux, or no procfs: the default range.
        }
        catch (UnauthorizedAccessException)
        {
        }

        return end - LowestPort >= 1_000 ? (LowestPort, end) : (1_024, Math.Max(end, 2_048));
    }
}
