using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EdgeSelector.Fleet.Tests;

/// <summary>
/// Real <c>nats-server</c> processes (the Debian package, JetStream on a file store) clustered over 127.0.0.1 routes
/// on free ports, each with a store directory of its own; <see cref="Kill"/> is SIGKILL, <see cref="Restart"/> reuses
/// the server's ports and store. Dispose kills them all and deletes the directories.
/// </summary>
internal sealed class NatsCluster : IDisposable
{
    private readonly string _root;
    private readonly int[] _clientPorts;
    private readonly int[] _routePorts;
    private readonly Process?[] _servers;
    private readonly string[] _serverArgs;

    /// <summary>Starts <paramref name="size"/> servers, each given <paramref name="serverArgs"/> too (auth, TLS).</summary>
    public NatsCluster(int size, params string[] serverArgs)
    {
        _serverArgs = serverArgs;
        _root = Path.Combine(Path.GetTempPath(), "es-nats-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
        _clientPorts = [.. Enumerable.Range(0, size).Select(_ => FreePort())];
        _routePorts = [.. Enumerable.Range(0, size).Select(_ => FreePort())];
        _servers = new Process?[size];
        try
        {
            for (var i = 0; i < size; i++)
            {
                Start(i);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Every server, comma-separated, as a client is given them.</summary>
    public string Url => string.Join(',', _clientPorts.Select(p => string.Create(CultureInfo.InvariantCulture, $"nats://127.0.0.1:{p}")));

    public int Size => _servers.Length;

    /// <summary>The nats-server binary: on PATH, or where the Debian package puts it.</summary>
    public static string Binary()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Append("/usr/sbin").Append("/usr/bin"))
        {
            var path = Path.Combine(dir, "nats-server");
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new InvalidOperationException("nats-server not found on PATH or in /usr/sbin: apt-get install nats-server (.ci/run does)");
    }

    /// <summary>SIGKILL of server <paramref name="i"/>.</summary>
    public void Kill(int i)
    {
        if (_servers[i] is { } p)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(10_000);
            p.Dispose();
            _servers[i] = null;
        }
    }

    /// <summary>Starts server <paramref name="i"/> again on its ports and store.</summary>
    public void Restart(int i)
    {
        Kill(i);
        Start(i);
    }

    public void Dispose()
    {
        for (var i = 0; i < _servers.Length; i++)
        {
            try
            {
                Kill(i);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by a dying process: the temp directory is cleaned by the OS.
        }
    }

    private void Start(int i)
    {
        var start = new ProcessStartInfo(Binary())
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var name = string.Create(CultureInfo.InvariantCulture, $"n{i}");
        foreach (var arg in new[]
        {
            "-a", "127.0.0.1", "-p", _clientPorts[i].ToString(CultureInfo.InvariantCulture), "-n", name,
            "-js", "-sd", Path.Combine(_root, name),
            "--cluster_name", "es-test",
            "--cluster", string.Create(CultureInfo.InvariantCulture, $"nats://127.0.0.1:{_routePorts[i]}"),
            "--routes", string.Join(',', _routePorts.Where((_, j) => j != i).Select(p => string.Create(CultureInfo.InvariantCulture, $"nats://127.0.0.1:{p}"))),
        })
        {
            start.ArgumentList.Add(arg);
        }

        if (_servers.Length == 1)
        {
            // A single server is not a cluster: no routes.
            start.ArgumentList.Clear();
            foreach (var arg in new[] { "-a", "127.0.0.1", "-p", _clientPorts[i].ToString(CultureInfo.InvariantCulture), "-n", name, "-js", "-sd", Path.Combine(_root, name) })
            {
                start.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in _serverArgs)
        {
            start.ArgumentList.Add(arg);
        }

        var log = File.AppendText(Path.Combine(_root, name + ".log"));
        log.AutoFlush = true;
        var process = Process.Start(start) ?? throw new InvalidOperationException("nats-server did not start");
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _servers[i] = process;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                probe.Connect(IPAddress.Loopback, _clientPorts[i]);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                Thread.Sleep(50);
            }
        }
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.WriteLine(line);
        }
    }

    internal static int FreePort() => FreePorts.Next();
}
