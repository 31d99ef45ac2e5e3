using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace EdgeSelector.Testing;

/// <summary>
/// Free loopback ports, never the same one twice in this process: the OS may hand a port freed by one test (or the
/// port just given for the other listener of the same node) out again at once.
/// </summary>
internal static class FreePorts
{
    private static readonly ConcurrentDictionary<int, byte> Given = new();

    /// <summary>A loopback port nothing listens on now and this process has not been given before.</summary>
    public static int Next()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (Given.TryAdd(port, 0))
            {
                return port;
            }
        }

        throw new InvalidOperationException("no free loopback port in 100 attempts");
    }

    /// <summary><see cref="Next"/> under the name the tests call it by (imported with <c>using static</c>).</summary>
    public static int FreePort() => Next();
}
