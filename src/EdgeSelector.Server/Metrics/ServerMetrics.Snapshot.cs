using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;

namespace EdgeSelector.Server.Metrics;

/// <summary>
/// A copy of the counters for readers off the request path (the dashboard's JSON, docs/dashboard.md): one read of each
/// striped counter, the same values /metrics renders. Counters only grow, so a snapshot taken after another never shows
/// a smaller count; the snapshot as a whole is not atomic (counters keep moving while it is read).
/// </summary>
internal sealed partial class ServerMetrics
{
    /// <summary>The <c>op</c> label values of /metrics, in the order of <see cref="MetricsSnapshot.Ops"/>.</summary>
    public static IReadOnlyList<string> OpNames { get; } = [.. Kinds.Select(KindName)];

    /// <summary>
    /// The fallback reasons counted, in /metrics order: every reason but <see cref="FallbackReason.None"/> and
    /// <see cref="FallbackReason.NoProfile"/> (both model decisions).
    /// </summary>
    public static IReadOnlyList<FallbackReason> CountedReasons { get; } = [.. Reasons.Where(r => r is not (FallbackReason.None or FallbackReason.NoProfile))];

    /// <summary>The reward statuses counted, in the order of <see cref="MetricsSnapshot.Rewards"/>.</summary>
    public static IReadOnlyList<RewardStatus> CountedStatuses => Statuses;

    /// <summary>Reads every counter once. Costs one pass over ~120 striped counters: for a few reads a second, not per request.</summary>
    public MetricsSnapshot Snapshot()
    {
        var buckets = LatencyBucketsMicros.Length + 1;
        var ops = new OpCounters[Kinds.Length];
        for (var i = 0; i < ops.Length; i++)
        {
            var k = (int)Kinds[i];
            var counts = new long[buckets];
            for (var b = 0; b < buckets; b++)
            {
                counts[b] = _latencyBuckets[(k * buckets) + b].Value;
            }

            ops[i] = new OpCounters(KindName(Kinds[i]), _requests[k].Value, _latencySumMicros[k].Value, counts);
        }

        var fallbacks = new long[CountedReasons.Count];
        for (var i = 0; i < fallbacks.Length; i++)
        {
            fallbacks[i] = _fallbacks[(int)CountedReasons[i]].Value;
        }

        var rewards = new long[Statuses.Length];
        for (var i = 0; i < rewards.Length; i++)
        {
            rewards[i] = _rewards[(int)Statuses[i]].Value;
        }

        return new MetricsSnapshot
        {
            Ops = ops,
            Selections = Selections,
            DecisionsWithProfile = _decidedWithProfile.Value,
            DecisionsWithoutProfile = _decidedWithoutProfile.Value,
            Fallbacks = fallbacks,
            Rewards = rewards,
            RewardsRefused = _rewardsRefused.Value,
            ImpressionsLogged = _impressionsLogged.Value,
            ImpressionsDropped = _impressionsDropped.Value,
            ProtocolErrors = _protocolErrors.Value,
            InFlight = Math.Max(0, _inFlight.Value), // a read across the stripes can see a -1 and miss its +1
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

    /// <summary>Titles the model decided with a profile (or the request's genres) known.</summary>
    public long DecisionsWithProfile { get; init; }

    /// <summary>Titles the model decided from the request's context alone (reason <c>no_profile</c>).</summary>
    public long DecisionsWithoutProfile { get; init; }

    /// <summary>Titles answered with the default image, by <see cref="ServerMetrics.CountedReasons"/>.</summary>
    public required long[] Fallbacks { get; init; }

    /// <summary>Rewards answered, by <see cref="ServerMetrics.CountedStatuses"/>.</summary>
    public required long[] Rewards { get; init; }

    /// <summary>Rewards answered Unavailable.</summary>
    public long RewardsRefused { get; init; }

    public long ImpressionsLogged { get; init; }

    public long ImpressionsDropped { get; init; }

    public long ProtocolErrors { get; init; }

    public long InFlight { get; init; }
}
