using EdgeSelector.Server.Dashboard;
using EdgeSelector.Server.Hosting;

namespace EdgeSelector.Server.Fleet;

/// <summary>Composition of the fleet into the host: nothing at all unless <c>EdgeSelector:Nats:Url</c> is set.</summary>
internal static class FleetHosting
{
    /// <summary>
    /// The log readers that must hold rotation when the node is in a fleet: the event shipper's
    /// (<see cref="EdgeSelector.Fleet.Events.EventShipper.ReaderName"/>); none otherwise.
    /// </summary>
    public static IReadOnlyList<string> RetentionReaders(IConfiguration configuration)
    {
        var options = new NatsOptions();
        configuration.GetSection(NatsOptions.Section).Bind(options);
        return options.Enabled ? [EdgeSelector.Fleet.Events.EventShipper.ReaderName] : [];
    }

    /// <summary>
    /// Registers the <see cref="FleetNode"/> hosted service, and its <see cref="FleetView"/> as the dashboard's
    /// <see cref="IFleetView"/>, when the node is configured for a fleet.
    /// </summary>
    public static void Add(WebApplicationBuilder builder, EdgeSelectorNode node)
    {
        var options = new NatsOptions();
        builder.Configuration.GetSection(NatsOptions.Section).Bind(options);
        if (!options.Validate().Enabled)
        {
            return;
        }

        builder.Logging.AddFilter("EdgeSelector.Fleet", LogLevel.Information);
        var parts = new FleetNodeParts(
            node.Options.NodeId,
            node.Stores.DataDir,
            $"http://{node.Options.BindAddress}:{node.Options.AdminPort}",
            node.Bundles,
            node.Stores.Models,
            node.Stores.Profiles,
            node.Stores.Impressions,
            node.Stores.Rewards,
            () => node.Stores.Models.Version > 0, // has a bundle of its own (not IsReady: readiness asks the fleet, which asks this)
            node.Rollout);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(parts);
        builder.Services.AddSingleton<FleetNode>();
        builder.Services.AddHostedService(services => services.GetRequiredService<FleetNode>());

        // The dashboard's fleet section (DashboardFeed takes the view from the container): the heartbeats the node
        // watches, read from memory on every GET /dashboard/stats.
        builder.Services.AddSingleton<IFleetView>(services => services.GetRequiredService<FleetNode>().View);
    }
}
