using EdgeSelector.Server.Fleet;
using EdgeSelector.Server.Hosting;

namespace EdgeSelector.Server.Metrics;

/// <summary>
/// GET /metrics: every series of the node through one <see cref="PrometheusWriter"/> (docs/operations.md, "Metrics").
/// Order: serving, storage health, rollout, fleet (in a fleet), build and process, then the runtime's and Kestrel's meters.
/// </summary>
internal static class NodeExposition
{
    /// <summary>The whole exposition text.</summary>
    public static string Render(EdgeSelectorNode node, FleetNode? fleet, MeterExporter meters)
    {
        var w = new PrometheusWriter(32768);
        node.Metrics.Write(w, node.Stores, node.Listeners);
        node.Health.WriteMetrics(w);
        node.Rollout.WriteMetrics(w); // rollout (#15)
        fleet?.WriteMetrics(w);
        BuildInfo.Write(w);
        ProcessMetrics.Write(w);
        meters.Write(w);
        return w.ToString();
    }
}
