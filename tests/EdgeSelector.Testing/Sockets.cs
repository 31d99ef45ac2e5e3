using System.Net.Sockets;

namespace EdgeSelector.Testing;

/// <summary>Raw socket reads for the tests that check how the server ends a connection.</summary>
internal static class Sockets
{
    /// <summary>
    /// Reads until the peer closes (a reset counts as a close); the bytes read, or null when it did not close within
    /// <paramref name="timeout"/>.
    /// </summary>
    public static async Task<byte[]?> ReadUntilClosedAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var all = new List<byte>();
        var buffer = new byte[1024];
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0)
                {
                    return [.. all];
                }

                all.AddRange(buffer.AsSpan(0, n));
            }
        }
        catch (SocketException)
        {
            return [.. all]; // a reset after the server's last answer is also a close
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
