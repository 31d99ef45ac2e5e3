using EdgeSelector.Core.Logging;

namespace EdgeSelector.Server.Metrics;

/// <summary>
/// A copy of the counters for readers off the request path (the dashboard's JSON, docs/dashboard.md): one read of each
/// striped counter, the same values /metrics renders. Counters only grow, so a snapshot taken after another never shows
/// a smaller count; the snapshot as a whole is not atomic (counters keep moving while it is read).
/// </summary>
internal sealed partial class ServerMetrics
{
    /// <summary>The <c>op</c> label values of /metrics, in the order of <see cref="MetricsSnapshot.Ops"/>.</summary>
    public static IReadOnlyList<string> OpNames => KindNames;

    /// <summary>The fallback reasons counted (every reason but <see cref="FallbackReason.None"/>), in /metrics order.</summary>
    public static IReadOnlyList<FallbackReason> CountedReasons { get; } = [.. Enumerable.Range(1, 7).Select(r => (FallbackReason)r)];

    /// <summary>Reads every counter once. Costs one pass over ~120 striped counters: for a few reads a second, not per request.</summary>
    public MetricsSnapshot Snapshot()
    {
        var buckets = LatencyBucketsMicros.Length + 1;
        var ops = new OpCounters[KindNames.Length];
        for (var k = 0; k < ops.Length; k++)
        {
            var counts = new long[buckets];
            for (var b = 0; b < buckets; b++)
            {
                counts[b] = _latencyBuckets[(k * buckets) + b].Value;
            }

            ops[k] = new OpCounters(KindNames[k], _requests[k].Value, _latencySumMicros[k].Value, counts);
        }

        var fallbacks = new long[CountedReasons.Count];
        for (var i = 0; i < fallbacks.Length; i++)
        {
            fallbacks[i] = _fallbacks[(int)CountedReasons[i]].Value;
        }

        return new MetricsSnapshot
        {
            Ops = ops,
            Selections = _selections.Value,
            Fallbacks = fallbacks,
            RewardsAccepted = _rewards[0].Value,
            RewardsDuplicate = _rewards[1].Value,
            RewardsUnknownEvent = _rewards[2].Value,
            ImpressionsLogged = _impressionsLogged.Value,
            ImpressionsDropped = _impressionsDropped.Value,
            ProtocolErrors = _protocolErrors.Value,
            InFlight = Volatile.Read(ref _inFlight),
            Connections = Connections,
            ConnectionsAccepted = _connectionsTotal.Value,
            ConnectionsRejected = _connectionsRejected.Value,
        };
    }
}

/// <summary>One operation's request count and latency histogram (per-bucket counts, not cumulative).</summary>
/// <param name="Op">The <c>op</c> label of /metrics.</param>
/// <param name="Requests">Requests answered.</param>
/// <param name="LatencySumMicros">Sum of their latencies, microseconds.</param>
/// <param name="Buckets">Requests per bucket of <see cref="ServerMetrics.LatencyBucketsMicros"/>, the last one above the highest bound.</param>
internal sealed record OpCounters(string Op, long Requests, long LatencySumMicros, long[] Buckets);

/// <summary>The values of <see cref="ServerMetrics"/> at one moment (see <see cref="ServerMetrics.Snapshot"/>).</summary>
internal sealed record MetricsSnapshot
{
    public required OpCounters[] Ops { get; init; }

    public long Selections { get; init; }

    /// <summary>Decisions answered with the default image, by <see cref="ServerMetrics.CountedReasons"/>.</summary>
    public required long[] Fallbacks { get; init; }

    public long RewardsAccepted { get; init; }

    public long RewardsDuplicate { get; init; }

    public long RewardsUnknownEvent { get; init; }

    public long ImpressionsLogged { get; init; }

    public long ImpressionsDropped { get; init; }

    public long ProtocolErrors { get; init; }

    public long InFlight { get; init; }

    /// <summary>Open binary-protocol connections.</summary>
    public long Connections { get; init; }

    public long ConnectionsAccepted { get; init; }

    public long ConnectionsRejected { get; init; }
}
