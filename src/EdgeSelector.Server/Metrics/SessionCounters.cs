using System.Runtime.CompilerServices;
using EdgeSelector.Core.Logging;

namespace EdgeSelector.Server.Metrics;

/// <summary>
/// One connection's counters for the batch being served (Garnet's per-session metrics): plain fields the request path
/// adds to without any interlocked operation, folded into the shared <see cref="ServerMetrics"/> once per batch
/// (<see cref="ServerMetrics.Fold"/>), which also times the batch once. Not thread-safe: one connection's loop.
/// </summary>
internal sealed class SessionCounters
{
    private static readonly int KindCount = Enum.GetValues<RequestKind>().Max(static k => (int)k) + 1;
    private static readonly int ReasonCount = Enum.GetValues<FallbackReason>().Max(static r => (int)r) + 1;

    /// <summary>Requests of the batch by kind.</summary>
    internal readonly int[] Requests = new int[KindCount];

    /// <summary>Fallbacks of the batch by reason.</summary>
    internal readonly int[] Fallbacks = new int[ReasonCount];

    internal long DecidedWithProfile;
    internal long DecidedWithoutProfile;
    internal long ImpressionsLogged;
    internal long ImpressionsDropped;

    /// <summary>True when something was counted since the last fold.</summary>
    internal bool Any;

    /// <summary>Counts a request of <paramref name="kind"/> (timed with its batch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Request(RequestKind kind)
    {
        Requests[(int)kind]++;
        Any = true;
    }

    /// <summary>Counts a title the model decided (see <see cref="ServerMetrics.Decided"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Decided(bool withProfile)
    {
        if (withProfile)
        {
            DecidedWithProfile++;
        }
        else
        {
            DecidedWithoutProfile++;
        }

        Any = true;
    }

    /// <summary>Counts a title answered with its default image, and why.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Fallback(FallbackReason reason)
    {
        Fallbacks[(int)reason]++;
        Any = true;
    }

    /// <summary>Counts the titles of one page entry appended to (or dropped by) the impression log.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Impression(bool logged, int titles)
    {
        if (logged)
        {
            ImpressionsLogged += titles;
        }
        else
        {
            ImpressionsDropped += titles;
        }

        Any = true;
    }
}

/// <summary>Counting per batch: a session's counters folded in, the batch timed once.</summary>
internal sealed partial class ServerMetrics
{
    private readonly StripedCounter _servingAllocatedBytes = new();
    private readonly StripedCounter _servingBatches = new();
    private readonly StripedCounter _servingRequests = new();

    /// <summary>Bytes allocated by serving threads while they served batches (GC.GetAllocatedBytesForCurrentThread per batch).</summary>
    public long ServingAllocatedBytes => _servingAllocatedBytes.Value;

    /// <summary>Requests of the batches whose allocations <see cref="ServingAllocatedBytes"/> counts.</summary>
    public long ServingRequests => _servingRequests.Value;

    /// <summary>
    /// Folds a session's batch into the shared counters and clears them: one striped add per non-zero counter instead
    /// of one per title. Every request of the batch is timed from <paramref name="startTimestamp"/> (the batch's read)
    /// to <paramref name="endTimestamp"/> (its last answer written): the batch's one latency, an upper bound for each.
    /// <paramref name="allocatedBytes"/> is what the serving thread allocated during the batch.
    /// </summary>
    public void Fold(SessionCounters counters, long startTimestamp, long endTimestamp, long allocatedBytes)
    {
        if (!counters.Any)
        {
            return;
        }

        counters.Any = false;
        var micros = (endTimestamp - startTimestamp) * TicksToMicros;
        var bucket = 0;
        while (bucket < LatencyBucketsMicros.Length && micros > LatencyBucketsMicros[bucket])
        {
            bucket++;
        }

        long requests = 0;
        var kinds = counters.Requests;
        for (var k = 0; k < kinds.Length; k++)
        {
            var n = kinds[k];
            if (n == 0)
            {
                continue;
            }

            kinds[k] = 0;
            requests += n;
            _requests[k].Add(n);
            _latencySumMicros[k].Add((long)(micros * n));
            _latencyBuckets[(k * (LatencyBucketsMicros.Length + 1)) + bucket].Add(n);
        }

        var reasons = counters.Fallbacks;
        for (var r = 0; r < reasons.Length; r++)
        {
            if (reasons[r] != 0)
            {
                _fallbacks[r].Add(reasons[r]);
                reasons[r] = 0;
            }
        }

        AddAndClear(_decidedWithProfile, ref counters.DecidedWithProfile);
        AddAndClear(_decidedWithoutProfile, ref counters.DecidedWithoutProfile);
        AddAndClear(_impressionsLogged, ref counters.ImpressionsLogged);
        AddAndClear(_impressionsDropped, ref counters.ImpressionsDropped);
        if (requests > 0)
        {
            _servingBatches.Increment();
            _servingRequests.Add(requests);
            _servingAllocatedBytes.Add(allocatedBytes);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddAndClear(StripedCounter counter, ref long value)
    {
        if (value != 0)
        {
            counter.Add(value);
            value = 0;
        }
    }

    // Appended to the exposition by Render: the serving threads' allocations next to the requests they served, so
    // bytes per request is readable from /metrics over a loaded run (docs/operations.md).
    private void WriteServing(PrometheusWriter w)
    {
        w.Single("edgeselector_serving_allocated_bytes_total", MetricType.Counter, "Bytes allocated on serving threads while they served request batches (GC.GetAllocatedBytesForCurrentThread, summed per batch).", _servingAllocatedBytes.Value);
        w.Single("edgeselector_serving_requests_total", MetricType.Counter, "Requests served in the batches edgeselector_serving_allocated_bytes_total counts (their ratio is bytes per request).", _servingRequests.Value);
        w.Single("edgeselector_serving_batches_total", MetricType.Counter, "Request batches served (one per read of a pipelined connection that carried requests).", _servingBatches.Value);
    }
}
