using System.CommandLine;
using System.Globalization;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Fleet;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary>
/// <c>edgesel fleet init --nats URL</c>: creates (or updates) every stream and bucket of the fleet. Idempotent: once per
/// cluster, or again to change retention. Nodes never create them.
/// </summary>
internal sealed class FleetInitCommand : CliCommand
{
    private readonly Option<string> _nats = SharedOptions.Nats("NATS servers of the fleet, comma-separated (nats://host:4222,...)", required: true);
    private readonly Option<int> _replicas = Replicas(3);

    private readonly Option<int> _eventMaxAgeHours = SharedOptions.Positive(new Option<int>("--event-max-age-hours")
    {
        Description = "How long impressions and rewards stay in their streams (the trainer must consume them within it)",
        HelpName = "H",
        DefaultValueFactory = _ => 168,
    });

    private readonly Option<int> _eventMaxGb = SharedOptions.Positive(new Option<int>("--event-max-gb")
    {
        Description = "Size cap of each event stream in GB, oldest dropped first (default none)",
        HelpName = "G",
    });

    private readonly Option<int> _wait = SharedOptions.Range(new Option<int>("--wait")
    {
        Description = "Seconds to wait for a forming NATS cluster (servers just started, no JetStream leader yet) to place the replicas",
        HelpName = "S",
        DefaultValueFactory = _ => 30,
    }, 0, 3600);

    public FleetInitCommand()
        : base("init", "Create (or update) the fleet's streams and buckets: ES_IMPRESSIONS, ES_REWARDS, ES_PROFILES, es_fleet, es_nodes, es_bundles (idempotent)")
    {
        Options.Add(_nats);
        Options.Add(_replicas);
        Options.Add(_eventMaxAgeHours);
        Options.Add(_eventMaxGb);
        Options.Add(_wait);
    }

    /// <summary><c>--replicas</c>: copies of every stream and bucket, 1, 3 or 5 (3 survives the loss of one NATS server).</summary>
    internal static Option<int> Replicas(int defaultValue) =>
        SharedOptions.OneOf(
            new Option<int>("--replicas")
            {
                Description = "Copies of every stream and bucket: 1, 3 (survives the loss of one NATS server) or 5",
                HelpName = "N",
                DefaultValueFactory = _ => defaultValue,
            },
            1, 3, 5);

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var url = parse.GetRequiredValue(_nats);
        var topology = new FleetTopology
        {
            Replicas = parse.GetValue(_replicas),
            EventMaxAge = TimeSpan.FromHours(parse.GetValue(_eventMaxAgeHours)),
            EventMaxBytes = parse.GetResult(_eventMaxGb) is { Implicit: false } ? (long)parse.GetValue(_eventMaxGb) << 30 : -1,
            PlacementWait = TimeSpan.FromSeconds(parse.GetValue(_wait)),
        };
        var connection = FleetCli.Connect(url, "fleet-init", context.Cancellation);
        using var _ = FleetCli.AsDisposable(connection);
        connection.InitTopologyAsync(topology, context.Cancellation).GetAwaiter().GetResult();
        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fleet ready at {url}: streams {FleetNames.ImpressionStream}, {FleetNames.RewardStream}, {FleetNames.ProfileStream}; buckets {FleetNames.PointerBucket}, {FleetNames.NodeBucket}, object store {FleetNames.BundleBucket}; {topology.Replicas} replicas"));
        return ExitCodes.Ok;
    }
}
