using System.Globalization;
using EdgeSelector.Fleet;
using EdgeSelector.Fleet.Bundles;
using EdgeSelector.Fleet.Status;
using NATS.Client.Core;
using NodeStatus = EdgeSelector.Fleet.NodeStatus;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary><c>edgesel fleet init|status --nats URL</c>: creates the fleet's streams and buckets; shows every node.</summary>
internal sealed class FleetCommand : ICommand
{
    public string Name => "fleet";

    public string Summary => "fleet init|status --nats URL: create the fleet's streams and buckets; show every node (docs/fleet.md)";

    public string Usage => """
        usage: edgesel fleet init --nats URL [--replicas N] [--event-max-age-hours H] [--event-max-gb G]
               edgesel fleet status --nats URL [--stale-after SECONDS]
               edgesel fleet bench --nats URL [--replicas N] [--messages N] [--bytes B] [--publishers P]
          --nats          NATS servers, comma-separated (nats://host:4222,...)
          --replicas      copies of every stream and bucket: 1, 3 (default; survives one NATS server) or 5
          --event-max-age-hours  how long impressions and rewards stay in their streams (default 168)
          --event-max-gb  size cap of each event stream (default none)
          --stale-after   status: flag a live node that has not applied the pointer's bundle this long after
                          the pointer moved (default 60 s); a node is live while its heartbeat is younger than
                          three of its intervals; two live instances with one node id are flagged
          bench           publish packed-size messages to a scratch stream (deleted after) as node shippers do:
                          --messages (default 2000), --bytes per message (default 262144), --publishers (default 1)
        status exit codes: 0 every live node serves the pointer's bundle, 1 some node is flagged or NATS is
        unreachable, 2 bad command line
        """;

    public IReadOnlySet<string> ValueOptions { get; } = new HashSet<string> { "nats", "replicas", "event-max-age-hours", "event-max-gb", "stale-after", "messages", "bytes", "publishers" };

    public IReadOnlySet<string> Flags { get; } = new HashSet<string>();

    public int MaxPositionals => 1;

    public int Run(CommandArgs args, TextWriter stdout, TextWriter stderr)
    {
        var verb = args.Positionals.Count == 1 ? args.Positionals[0] : throw new UsageException("expected: fleet init or fleet status.");
        var url = args.Require("nats");
        try
        {
            return verb switch
            {
                "init" => Init(args, url, stdout),
                "status" => Status(args, url, stdout),
                "bench" => Bench(args, url, stdout),
                _ => throw new UsageException($"unknown fleet command '{verb}' (init, status, bench)."),
            };
        }
        catch (Exception e) when (e is FleetException or NatsException or TimeoutException)
        {
            stderr.WriteLine($"edgesel fleet {verb}: {e.Message}");
            return Program.ExitInputError;
        }
    }

    private static int Init(CommandArgs args, string url, TextWriter stdout)
    {
        var topology = new FleetTopology
        {
            Replicas = Int(args, "replicas", 3) is var r and (1 or 3 or 5) ? r : throw new UsageException("--replicas must be 1, 3 or 5."),
            EventMaxAge = TimeSpan.FromHours(Int(args, "event-max-age-hours", 168)),
            EventMaxBytes = args.Get("event-max-gb") is null ? -1 : (long)Int(args, "event-max-gb", 0) << 30,
        };
        var connection = FleetCli.Connect(url, "fleet-init");
        using var _ = AsDisposable(connection);
        connection.InitTopologyAsync(topology).GetAwaiter().GetResult();
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fleet ready at {url}: streams {FleetNames.ImpressionStream}, {FleetNames.RewardStream}, {FleetNames.ProfileStream}; buckets {FleetNames.PointerBucket}, {FleetNames.NodeBucket}, object store {FleetNames.BundleBucket}; {topology.Replicas} replicas"));
        return Program.ExitOk;
    }

    private static int Status(CommandArgs args, string url, TextWriter stdout)
    {
        var staleMs = Int(args, "stale-after", 60) * 1000L;
        var connection = FleetCli.Connect(url, "fleet-status");
        using var _ = AsDisposable(connection);
        var pointer = new BundleChannel(connection).GetPointerAsync().GetAwaiter().GetResult();
        var nodes = new StatusChannel(connection).ListAsync().GetAwaiter().GetResult();
        var profiles = connection.GetStreamAsync(FleetNames.ProfileStream).GetAwaiter().GetResult().Info.State.LastSeq;
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        stdout.WriteLine(pointer is null
            ? "bundle pointer: none (nothing pushed)"
            : string.Create(CultureInfo.InvariantCulture, $"bundle pointer: version {pointer.Version} ({pointer.Object}, sha256 {pointer.Sha256[..12]}…), moved {(now - pointer.PointedAtMs) / 1000} s ago"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"profile stream: last sequence {profiles}"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"node",5} {"instance",-28} {"ready",5} {"bundle",8} {"profiles",9} {"ship lag (imp/rew)",20} {"heartbeat",10}  flags"));
        var flagged = 0;
        bool Live(NodeStatus n) => now - n.HeartbeatAtMs < Math.Max(3 * n.HeartbeatIntervalMs, 2000);
        var duplicates = nodes.Where(Live).GroupBy(n => n.NodeId).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
        var live = 0;
        foreach (var n in nodes)
        {
            var flags = new List<string>();
            var age = now - n.HeartbeatAtMs;
            var blocking = false;
            if (!Live(n))
            {
                // A restarted node leaves its former instance's heartbeat until it expires: not a problem if a newer one is live.
                var replaced = nodes.Any(o => o.NodeId == n.NodeId && Live(o) && o.StartedAtMs >= n.StartedAtMs);
                flags.Add(replaced ? "former instance (restarted)" : "NO HEARTBEAT");
                blocking = !replaced;
            }
            else
            {
                live++;
                if (duplicates.Contains(n.NodeId))
                {
                    flags.Add("DUPLICATE NODE ID");
                    blocking = true;
                }

                if (pointer is not null && n.AppliedVersion != pointer.Version && now - pointer.PointedAtMs >= staleMs)
                {
                    flags.Add(string.Create(CultureInfo.InvariantCulture, $"NOT ON BUNDLE {pointer.Version} {staleMs / 1000} s after the push"));
                    blocking = true;
                }

                if (n.BundleError is { } bundleError)
                {
                    flags.Add(bundleError);
                }

                if (n.ShippingError is { } shippingError)
                {
                    flags.Add("shipping: " + shippingError);
                }

                if (n.ProfilePosition < profiles)
                {
                    flags.Add(string.Create(CultureInfo.InvariantCulture, $"profiles behind by {profiles - n.ProfilePosition}"));
                }
            }

            flagged += blocking ? 1 : 0;
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{n.NodeId,5} {Trim(n.Instance, 28),-28} {(n.Ready ? "yes" : "no"),5} {n.AppliedVersion,8} {n.ProfilePosition,9} {Bytes(n.ImpressionLagBytes) + "/" + Bytes(n.RewardLagBytes),20} {age / 1000 + " s ago",10}  {string.Join("; ", flags)}"));
        }

        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{live} live node(s), {flagged} flagged"));
        return flagged == 0 ? Program.ExitOk : Program.ExitInputError;
    }

    private static int Bench(CommandArgs args, string url, TextWriter stdout)
    {
        var connection = FleetCli.Connect(url, "fleet-bench");
        using var _ = AsDisposable(connection);
        return FleetBench.Run(connection, Int(args, "replicas", 3), Int(args, "messages", 2000), Int(args, "bytes", 256 * 1024), Int(args, "publishers", 1), stdout);
    }

    private static string Trim(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";

    private static string Bytes(long b) => b < 1024 ? b.ToString(CultureInfo.InvariantCulture) : b < 1 << 20 ? (b >> 10).ToString(CultureInfo.InvariantCulture) + "K" : (b >> 20).ToString(CultureInfo.InvariantCulture) + "M";

    private static int Int(CommandArgs args, string name, int fallback) =>
        args.Get(name) is not { } text ? fallback
        : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v
        : throw new UsageException($"--{name} must be a positive integer.");

    /// <summary>Disposes the connection synchronously at the end of a command.</summary>
    internal static IDisposable AsDisposable(FleetConnection connection) => new Closer(connection);

    private sealed class Closer(FleetConnection connection) : IDisposable
    {
        public void Dispose() => connection.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
