using System.Net;
using System.Net.Sockets;

namespace EdgeSelector.Server.Configuration;

/// <summary>
/// The resources the configuration names, checked before the stores open: the data directory must take a file and
/// every port must be free, so each mistake is one line naming the key and the resource (exit codes 3 and 5,
/// docs/operations.md) instead of a stack trace from FASTER or Kestrel.
/// </summary>
internal static class ResourceChecks
{
    /// <summary>Creates the data directory if needed and writes (then deletes) a probe file in it.</summary>
    public static void DataDirectory(EdgeSelectorOptions options)
    {
        var dataDir = Path.GetFullPath(options.DataDir);
        try
        {
            Directory.CreateDirectory(dataDir);
            var probe = Path.Combine(dataDir, $".write-probe-{Environment.ProcessId}");
            using (new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException(ExitCodes.StartRefused, $"cannot start: data directory {dataDir} (EdgeSelector:DataDir) is not writable: {e.Message}");
        }
    }

    /// <summary>Binds (and releases) each configured port, so a port in use is refused before the stores open.</summary>
    public static void Ports(EdgeSelectorOptions options)
    {
        var address = IPAddress.Parse(options.BindAddress);
        Probe(address, options.BinaryPort, nameof(EdgeSelectorOptions.BinaryPort));
        if (options.RespPort != 0)
        {
            Probe(address, options.RespPort, nameof(EdgeSelectorOptions.RespPort));
        }

        Probe(address, options.AdminPort, nameof(EdgeSelectorOptions.AdminPort));
    }

    /// <summary>
    /// The one-line message for Kestrel's bind failure (a port taken between <see cref="Ports"/> and the listener), or
    /// null when <paramref name="e"/> is not one.
    /// </summary>
    public static string? ListenFailure(IOException e, EdgeSelectorOptions options)
    {
        if (e.InnerException is not SocketException and not Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            return null;
        }

        var key = e.Message.Contains($":{options.BinaryPort}", StringComparison.Ordinal) ? nameof(options.BinaryPort)
            : options.RespPort != 0 && e.Message.Contains($":{options.RespPort}", StringComparison.Ordinal) ? nameof(options.RespPort)
            : nameof(options.AdminPort);
        return $"cannot listen (EdgeSelector:{key}, EdgeSelector:BindAddress): {e.Message}";
    }

    private static void Probe(IPAddress address, int port, string key)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // As Kestrel binds: a port whose old connections sit in TIME_WAIT is free; one with a listener is not.
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException e)
        {
            var why = e.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => "is already in use (another edgeselector, or another program)",
                SocketError.AccessDenied => "needs privileges (ports below 1024: use a higher port, or CAP_NET_BIND_SERVICE)",
                SocketError.AddressNotAvailable => "is not an address of this host (EdgeSelector:BindAddress)",
                _ => $"cannot be opened: {e.Message}",
            };
            throw new StartupException(ExitCodes.Listen, $"cannot listen: {address}:{port} (EdgeSelector:{key}) {why}");
        }
    }
}
