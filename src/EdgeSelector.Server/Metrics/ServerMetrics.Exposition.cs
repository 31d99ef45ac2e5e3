using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Hosting;

namespace EdgeSelector.Server.Metrics;

/// <summary>
/// The serving counters in /metrics (docs/operations.md, "Metrics"): how they are named and written, apart from how
/// they are counted (ServerMetrics.cs). Latency is counted in microsecond buckets on the request path and exposed in
/// seconds, Prometheus's base unit: the bucket bounds and the sum are divided by 10^6 here, once per scrape.
/// </summary>
internal sealed partial class ServerMetrics
{
    /// <summary>Upper bounds of the latency histogram buckets in seconds (<see cref="LatencyBucketsMicros"/> / 10^6).</summary>
    internal static readonly double[] LatencyBucketsSeconds = [.. LatencyBucketsMicros.Select(b => (double)((decimal)b / 1_000_000m))];

    /// <summary>Writes the serving series: requests and latency by op, selections, decisions, fallbacks, rewards, connections, stores.</summary>
    public void Write(PrometheusWriter w, NodeStores stores, IReadOnlyList<ConnectionLimit> listeners)
    {
        w.Family("edgeselector_requests_total", MetricType.Counter, "Requests answered, by operation.");
        foreach (var kind in Kinds)
        {
            w.Sample("edgeselector_requests_total", "op", KindName(kind), _requests[(int)kind].Value);
        }

        w.Family("edgeselector_request_duration_seconds", MetricType.Histogram, "Time to serve the batch a request came in (read to response written; every request of a batch records the batch's time), seconds.");
        Span<long> counts = stackalloc long[LatencyBucketsMicros.Length + 1];
        foreach (var kind in Kinds)
        {
            var k = (int)kind;
            for (var b = 0; b < counts.Length; b++)
            {
                counts[b] = _latencyBuckets[(k * counts.Length) + b].Value;
            }

            w.Histogram("edgeselector_request_duration_seconds", PrometheusWriter.Labels(("op", KindName(kind))), LatencyBucketsSeconds, counts, _latencySumMicros[k].Value / 1e6);
        }

        w.Single("edgeselector_selections_total", MetricType.Counter, "Titles answered (one per title of a page): model decisions and fallbacks.", Selections);
        w.Family("edgeselector_model_decisions_total", MetricType.Counter, "Titles the model decided, by whether a stored profile (or the request's genres) was known; profile=\"none\" is reason no_profile.");
        w.Sample("edgeselector_model_decisions_total", "profile", "known", _decidedWithProfile.Value);
        w.Sample("edgeselector_model_decisions_total", "profile", "none", _decidedWithoutProfile.Value);
        w.Family("edgeselector_fallbacks_total", MetricType.Counter, "Titles answered with the default image instead of a model decision, by reason.");
        foreach (var reason in CountedReasons)
        {
            w.Sample("edgeselector_fallbacks_total", "reason", ReasonName(reason), _fallbacks[(int)reason].Value);
        }

        w.Family("edgeselector_rewards_total", MetricType.Counter, "Rewards answered, by status (accepted ones only once durable).");
        foreach (var status in Statuses)
        {
            w.Sample("edgeselector_rewards_total", "status", StatusName(status), _rewards[(int)status].Value);
        }

        w.Single("edgeselector_rewards_refused_total", MetricType.Counter, "Rewards answered Unavailable (retry): the reward log could not take them or make them durable in time.", _rewardsRefused.Value);
        w.Single("edgeselector_protocol_errors_total", MetricType.Counter, "Frames answered with an ERROR frame (binary) or -ERR (RESP, unknown command or unreadable input).", _protocolErrors.Value);
        w.Single("edgeselector_in_flight_requests", MetricType.Gauge, "Requests being processed.", Math.Max(0, _inFlight.Value));
        w.Family("edgeselector_connections", MetricType.Gauge, "Open connections, by listener (binary, resp).");
        foreach (var listener in listeners)
        {
            w.Sample("edgeselector_connections", "listener", listener.Listener, listener.Open);
        }

        w.Family("edgeselector_connection_limit", MetricType.Gauge, "Connection budget of each listener (MaxConnections, RespMaxConnections).");
        foreach (var listener in listeners)
        {
            w.Sample("edgeselector_connection_limit", "listener", listener.Listener, listener.Max);
        }

        w.Family("edgeselector_connections_total", MetricType.Counter, "Connections accepted, by listener.");
        foreach (var listener in listeners)
        {
            w.Sample("edgeselector_connections_total", "listener", listener.Listener, listener.Accepted);
        }

        w.Family("edgeselector_connections_rejected_total", MetricType.Counter, "Connections closed at once because their listener's budget was reached.");
        foreach (var listener in listeners)
        {
            w.Sample("edgeselector_connections_rejected_total", "listener", listener.Listener, listener.Rejected);
        }

        WriteStores(w, stores);
        WriteServing(w);
    }

    private void WriteStores(PrometheusWriter w, NodeStores stores)
    {
        w.Single("edgeselector_models", MetricType.Gauge, "Titles with a model in the active bundle.", stores.Models.TitleCount);
        w.Family("edgeselector_model_bundle_version", MetricType.Gauge, "Version of the active model bundle (and the previous one).");
        w.Sample("edgeselector_model_bundle_version", "which", "active", stores.Models.Version);
        w.Sample("edgeselector_model_bundle_version", "which", "previous", stores.Models.PreviousVersion);
        w.Family("edgeselector_store_bytes", MetricType.Gauge, "Bytes of each store's hybrid log (tail minus begin/head).");
        w.Sample("edgeselector_store_bytes", "store", "profiles", stores.Profiles.TailAddress - stores.Profiles.HeadAddress);
        w.Sample("edgeselector_store_bytes", "store", "impressions", stores.ImpressionLogBytes);
        w.Family("edgeselector_impressions_total", MetricType.Counter, "Impressions appended to the log, and dropped (log full or failed).");
        w.Sample("edgeselector_impressions_total", "result", "logged", _impressionsLogged.Value);
        w.Sample("edgeselector_impressions_total", "result", "dropped", _impressionsDropped.Value);
        w.Single("edgeselector_impression_log_lag_bytes", MetricType.Gauge, "Bytes appended to the impression log but not yet committed to disk.", stores.ImpressionLogLagBytes);
    }
}
