using System.CommandLine;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary><c>edgesel fleet</c>: the fleet's NATS side (docs/fleet.md): create its streams and buckets, show every node, measure JetStream.</summary>
internal sealed class FleetCommand : Command
{
    public FleetCommand()
        : base("fleet", "A fleet of nodes on NATS JetStream (docs/fleet.md): create its streams and buckets, show every node, measure JetStream")
    {
        Subcommands.Add(new FleetInitCommand());
        Subcommands.Add(new FleetStatusCommand());
        Subcommands.Add(new FleetBenchCommand());
    }
}
