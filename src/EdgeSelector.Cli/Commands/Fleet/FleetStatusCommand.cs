using System.CommandLine;
using System.Globalization;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Fleet;
using EdgeSelector.Fleet.Bundles;
using EdgeSelector.Fleet.Status;
using NodeStatus = EdgeSelector.Fleet.NodeStatus;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary>
/// <c>edgesel fleet status --nats URL</c>: the bundle pointer, the profile stream's last sequence and every node's
/// heartbeat (docs/fleet.md, "Fleet view"). Exit 1 when a node is flagged: not on the pointer's bundle
/// <c>--stale-after</c> seconds after the pointer moved, two live instances with one node id, or a heartbeat that stopped.
/// </summary>
internal sealed class FleetStatusCommand : CliCommand
{
    private readonly Option<string> _nats = SharedOptions.Nats("NATS servers of the fleet, comma-separated (nats://host:4222,...)", required: true);

    private readonly Option<int> _staleAfter = SharedOptions.Positive(new Option<int>("--stale-after")
    {
        Description = "Flag a live node that has not applied the pointer's bundle this many seconds after the pointer moved",
        HelpName = "SECONDS",
        DefaultValueFactory = _ => 60,
    });

    public FleetStatusCommand()
        : base("status", "Show the bundle pointer and every node: applied bundle, profile position, shipping lag, last heartbeat; exit 1 when a node is flagged")
    {
        Options.Add(_nats);
        Options.Add(_staleAfter);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var url = parse.GetRequiredValue(_nats);
        var staleMs = parse.GetValue(_staleAfter) * 1000L;
        var cancellation = context.Cancellation;
        var connection = FleetCli.Connect(url, "fleet-status", cancellation);
        using var _ = FleetCli.AsDisposable(connection);
        var pointer = new BundleChannel(connection).GetPointerAsync(cancellation).GetAwaiter().GetResult();
        var nodes = new StatusChannel(connection).ListAsync(cancellation).GetAwaiter().GetResult();
        var profiles = connection.GetStreamAsync(FleetNames.ProfileStream, cancellation).GetAwaiter().GetResult().Info.State.LastSeq;
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var stdout = context.Out;
        stdout.WriteLine(pointer is null
            ? "bundle pointer: none (nothing pushed)"
            : string.Create(CultureInfo.InvariantCulture, $"bundle pointer: version {pointer.Version} ({pointer.Object}, sha256 {pointer.Sha256[..12]}…), moved {(now - pointer.PointedAtMs) / 1000} s ago"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"profile stream: last sequence {profiles}"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"node",5} {"instance",-28} {"ready",5} {"bundle",14} {"profiles",9} {"ship lag (imp/rew)",20} {"heartbeat",10}  flags"));
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
                $"{n.NodeId,5} {Trim(n.Instance, 28),-28} {(n.Ready ? "yes" : "no"),5} {n.AppliedVersion,14} {n.ProfilePosition,9} {Bytes(n.ImpressionLagBytes) + "/" + Bytes(n.RewardLagBytes),20} {age / 1000 + " s ago",10}  {string.Join("; ", flags)}"));
        }

        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{live} live node(s), {flagged} flagged"));
        return flagged == 0 ? ExitCodes.Ok : ExitCodes.Failed;
    }

    private static string Trim(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";

    private static string Bytes(long b) => b < 1024 ? b.ToString(CultureInfo.InvariantCulture) : b < 1 << 20 ? (b >> 10).ToString(CultureInfo.InvariantCulture) + "K" : (b >> 20).ToString(CultureInfo.InvariantCulture) + "M";
}
