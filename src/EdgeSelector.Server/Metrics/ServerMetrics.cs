using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Hosting;

namespace EdgeSelector.Server.Metrics;

/// <summary>Which request kind a latency or count belongs to.</summary>
internal enum RequestKind
{
    Select = 0,
    SelectPage = 1,
    Reward = 2,
    Ping = 3,
    Error = 4,
    AdminSelect = 5,
}

/// <summary>
/// The server's counters and latency histogram, exposed as Prometheus text on GET /metrics. Everything the hot path
/// touches is a striped counter: no lock, no allocation, no shared cache line. Every per-value array is sized from its
/// enum, so a new enum member gets a counter of its own (ServerMetricsTests).
/// </summary>
internal sealed partial class ServerMetrics
{
    /// <summary>Upper bounds of the latency histogram buckets, in microseconds.</summary>
    internal static readonly double[] LatencyBucketsMicros = [10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000];

    private static readonly RequestKind[] Kinds = Enum.GetValues<RequestKind>();
    private static readonly FallbackReason[] Reasons = Enum.GetValues<FallbackReason>();
    private static readonly RewardStatus[] Statuses = Enum.GetValues<RewardStatus>();
    private static readonly double TicksToMicros = 1_000_000.0 / Stopwatch.Frequency;

    private readonly StripedCounter[] _requests = Create(SizeOf(Kinds));
    private readonly StripedCounter[] _latencyBuckets = Create(SizeOf(Kinds) * (LatencyBucketsMicros.Length + 1));
    private readonly StripedCounter[] _latencySumMicros = Create(SizeOf(Kinds));
    private readonly StripedCounter[] _fallbacks = Create(SizeOf(Reasons));
    private readonly StripedCounter[] _rewards = Create(SizeOf(Statuses));
    private readonly StripedCounter _decidedWithProfile = new();
    private readonly StripedCounter _decidedWithoutProfile = new();
    private readonly StripedCounter _rewardsRefused = new();
    private readonly StripedCounter _impressionsLogged = new();
    private readonly StripedCounter _impressionsDropped = new();
    private readonly StripedCounter _protocolErrors = new();
    private long _inFlight;

    /// <summary>Titles answered (one per title of a page), model decisions and fallbacks alike.</summary>
    public long Selections => _decidedWithProfile.Value + _decidedWithoutProfile.Value + Fallbacks();

    /// <summary>Counts a request and its latency from <paramref name="startTimestamp"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public void Request(RequestKind kind, long startTimestamp)
    {
        var micros = (Stopwatch.GetTimestamp() - startTimestamp) * TicksToMicros;
        var k = (int)kind;
        _requests[k].Increment();
        _latencySumMicros[k].Add((long)micros);
        var bucket = 0;
        while (bucket < LatencyBucketsMicros.Length && micros > LatencyBucketsMicros[bucket])
        {
            bucket++;
        }

        _latencyBuckets[(k * (LatencyBucketsMicros.Length + 1)) + bucket].Increment();
    }

    /// <summary>Requests of a kind counted so far.</summary>
    public long Requests(RequestKind kind) => _requests[(int)kind].Value;

    /// <summary>
    /// Counts a title the model decided; <paramref name="withProfile"/> false = from the request's context alone
    /// (no stored profile and no genres in the request: reason <c>NoProfile</c>, still the model's choice).
    /// </summary>
    public void Decided(bool withProfile) => (withProfile ? _decidedWithProfile : _decidedWithoutProfile).Increment();

    /// <summary>Titles the model decided, with or without a stored profile.</summary>
    public long Decisions(bool withProfile) => (withProfile ? _decidedWithProfile : _decidedWithoutProfile).Value;

    /// <summary>Counts a title answered with its default image instead of a model decision, and why.</summary>
    public void Fallback(FallbackReason reason) => _fallbacks[(int)reason].Increment();

    /// <summary>How many titles were answered with the default image for a reason.</summary>
    public long Fallbacks(FallbackReason reason) => _fallbacks[(int)reason].Value;

    /// <summary>Counts a reward by its answer.</summary>
    public void Reward(RewardStatus status) => _rewards[(int)status].Increment();

    /// <summary>Rewards answered with a status.</summary>
    public long Rewards(RewardStatus status) => _rewards[(int)status].Value;

    /// <summary>Counts a reward answered <c>Unavailable</c>: the log could not take it or make it durable in time.</summary>
    public void RewardRefused() => _rewardsRefused.Increment();

    /// <summary>Counts the <paramref name="titles"/> impressions of one page entry appended to (or dropped by) the log.</summary>
    public void Impression(bool logged, int titles) => (logged ? _impressionsLogged : _impressionsDropped).Add(titles);

    /// <summary>Counts a protocol error answered with an ERROR frame.</summary>
    public void ProtocolError() => _protocolErrors.Increment();

    /// <summary>Requests being processed now.</summary>
    public void InFlight(int delta) => Interlocked.Add(ref _inFlight, delta);

    /// <summary>Writes the Prometheus text exposition (format 0.0.4).</summary>
    public string Render(NodeStores stores, IReadOnlyList<ConnectionLimit> listeners)
    {
        var sb = new StringBuilder(8192);
        var ci = CultureInfo.InvariantCulture;
        Header(sb, "edgeselector_requests_total", "counter", "Requests answered, by operation.");
        foreach (var kind in Kinds)
        {
            sb.Append(ci, $"edgeselector_requests_total{{op=\"{KindName(kind)}\"}} {_requests[(int)kind].Value}\n");
        }

        Header(sb, "edgeselector_request_duration_microseconds", "histogram", "Time from a request's frame being parsed to its response being written.");
        foreach (var kind in Kinds)
        {
            var k = (int)kind;
            long cumulative = 0;
            for (var b = 0; b <= LatencyBucketsMicros.Length; b++)
            {
                cumulative += _latencyBuckets[(k * (LatencyBucketsMicros.Length + 1)) + b].Value;
                var le = b < LatencyBucketsMicros.Length ? LatencyBucketsMicros[b].ToString(ci) : "+Inf";
                sb.Append(ci, $"edgeselector_request_duration_microseconds_bucket{{op=\"{KindName(kind)}\",le=\"{le}\"}} {cumulative}\n");
            }

            sb.Append(ci, $"edgeselector_request_duration_microseconds_sum{{op=\"{KindName(kind)}\"}} {_latencySumMicros[k].Value}\n");
            sb.Append(ci, $"edgeselector_request_duration_microseconds_count{{op=\"{KindName(kind)}\"}} {cumulative}\n");
        }

        Header(sb, "edgeselector_selections_total", "counter", "Titles answered (one per title of a page): model decisions and fallbacks.");
        sb.Append(ci, $"edgeselector_selections_total {Selections}\n");
        Header(sb, "edgeselector_model_decisions_total", "counter", "Titles the model decided, by whether a stored profile (or the request's genres) was known; profile=\"none\" is reason no_profile.");
        sb.Append(ci, $"edgeselector_model_decisions_total{{profile=\"known\"}} {_decidedWithProfile.Value}\n");
        sb.Append(ci, $"edgeselector_model_decisions_total{{profile=\"none\"}} {_decidedWithoutProfile.Value}\n");
        Header(sb, "edgeselector_fallbacks_total", "counter", "Titles answered with the default image instead of a model decision, by reason.");
        foreach (var reason in Reasons)
        {
            if (reason is not (FallbackReason.None or FallbackReason.NoProfile))
            {
                sb.Append(ci, $"edgeselector_fallbacks_total{{reason=\"{ReasonName(reason)}\"}} {_fallbacks[(int)reason].Value}\n");
            }
        }

        Header(sb, "edgeselector_rewards_total", "counter", "Rewards answered, by status (accepted ones only once durable).");
        foreach (var status in Statuses)
        {
            sb.Append(ci, $"edgeselector_rewards_total{{status=\"{StatusName(status)}\"}} {_rewards[(int)status].Value}\n");
        }

        Header(sb, "edgeselector_rewards_refused_total", "counter", "Rewards answered Unavailable (retry): the reward log could not take them or make them durable in time.");
        sb.Append(ci, $"edgeselector_rewards_refused_total {_rewardsRefused.Value}\n");
        Header(sb, "edgeselector_protocol_errors_total", "counter", "Frames answered with an ERROR frame.");
        sb.Append(ci, $"edgeselector_protocol_errors_total {_protocolErrors.Value}\n");
        Header(sb, "edgeselector_in_flight_requests", "gauge", "Requests being processed.");
        sb.Append(ci, $"edgeselector_in_flight_requests {Volatile.Read(ref _inFlight)}\n");
        Header(sb, "edgeselector_connections", "gauge", "Open connections, by listener (binary, resp).");
        foreach (var listener in listeners)
        {
            sb.Append(ci, $"edgeselector_connections{{listener=\"{listener.Listener}\"}} {listener.Open}\n");
        }

        Header(sb, "edgeselector_connection_limit", "gauge", "Connection budget of each listener (MaxConnections, RespMaxConnections).");
        foreach (var listener in listeners)
        {
            sb.Append(ci, $"edgeselector_connection_limit{{listener=\"{listener.Listener}\"}} {listener.Max}\n");
        }

        Header(sb, "edgeselector_connections_total", "counter", "Connections accepted, by listener.");
        foreach (var listener in listeners)
        {
            sb.Append(ci, $"edgeselector_connections_total{{listener=\"{listener.Listener}\"}} {listener.Accepted}\n");
        }

        Header(sb, "edgeselector_connections_rejected_total", "counter", "Connections closed at once because their listener's budget was reached.");
        foreach (var listener in listeners)
        {
            sb.Append(ci, $"edgeselector_connections_rejected_total{{listener=\"{listener.Listener}\"}} {listener.Rejected}\n");
        }

        RenderStores(sb, ci, stores);
        Header(sb, "edgeselector_gc_collections_total", "counter", "Garbage collections by generation (steady-state serving should not move these).");
        for (var g = 0; g <= 2; g++)
        {
            sb.Append(ci, $"edgeselector_gc_collections_total{{generation=\"{g}\"}} {GC.CollectionCount(g)}\n");
        }

        Header(sb, "edgeselector_allocated_bytes_total", "counter", "Bytes allocated by the process since start (GC.GetTotalAllocatedBytes).");
        sb.Append(ci, $"edgeselector_allocated_bytes_total {GC.GetTotalAllocatedBytes()}\n");
        RenderServing(sb, ci);
        return sb.ToString();
    }

    /// <summary>The label value of a fallback reason in /metrics and the admin API.</summary>
    public static string ReasonName(FallbackReason reason) => reason switch
    {
        FallbackReason.None => "none",
        FallbackReason.UnknownTitle => "unknown_title",
        FallbackReason.NoModel => "no_model",
        FallbackReason.CorruptModel => "corrupt_model",
        FallbackReason.NoProfile => "no_profile",
        FallbackReason.Deadline => "deadline",
        FallbackReason.Overload => "overload",
        FallbackReason.InternalError => "internal_error",
        _ => Unnamed((int)reason),
    };

    /// <summary>The label value of a reward status.</summary>
    public static string StatusName(RewardStatus status) => status switch
    {
        RewardStatus.Accepted => "accepted",
        RewardStatus.Duplicate => "duplicate",
        RewardStatus.UnknownEvent => "unknown_event",
        RewardStatus.Unverified => "unverified",
        _ => Unnamed((int)status),
    };

    /// <summary>The label value of a request kind.</summary>
    public static string KindName(RequestKind kind) => kind switch
    {
        RequestKind.Select => "select",
        RequestKind.SelectPage => "select_page",
        RequestKind.Reward => "reward",
        RequestKind.Ping => "ping",
        RequestKind.Error => "error",
        RequestKind.AdminSelect => "admin_select",
        _ => Unnamed((int)kind),
    };

    /// <summary>The label of an enum member nobody named yet (ServerMetricsTests fails on it).</summary>
    internal static string Unnamed(int value) => "unnamed_" + value.ToString(CultureInfo.InvariantCulture);

    private void RenderStores(StringBuilder sb, CultureInfo ci, NodeStores stores)
    {
        Header(sb, "edgeselector_models", "gauge", "Titles with a model in the active bundle.");
        sb.Append(ci, $"edgeselector_models {stores.Models.TitleCount}\n");
        Header(sb, "edgeselector_model_bundle_version", "gauge", "Version of the active model bundle (and the previous one).");
        sb.Append(ci, $"edgeselector_model_bundle_version{{which=\"active\"}} {stores.Models.Version}\n");
        sb.Append(ci, $"edgeselector_model_bundle_version{{which=\"previous\"}} {stores.Models.PreviousVersion}\n");
        Header(sb, "edgeselector_store_bytes", "gauge", "Bytes of each store's hybrid log (tail minus begin/head).");
        sb.Append(ci, $"edgeselector_store_bytes{{store=\"profiles\"}} {stores.Profiles.TailAddress - stores.Profiles.HeadAddress}\n");
        sb.Append(ci, $"edgeselector_store_bytes{{store=\"impressions\"}} {stores.ImpressionLogBytes}\n");
        Header(sb, "edgeselector_impressions_total", "counter", "Impressions appended to the log, and dropped (log full or failed).");
        sb.Append(ci, $"edgeselector_impressions_total{{result=\"logged\"}} {_impressionsLogged.Value}\n");
        sb.Append(ci, $"edgeselector_impressions_total{{result=\"dropped\"}} {_impressionsDropped.Value}\n");
        Header(sb, "edgeselector_impression_log_lag_bytes", "gauge", "Bytes appended to the impression log but not yet committed to disk.");
        sb.Append(ci, $"edgeselector_impression_log_lag_bytes {stores.ImpressionLogLagBytes}\n");
    }

    private static void Header(StringBuilder sb, string name, string type, string help) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static int SizeOf<TEnum>(TEnum[] values)
        where TEnum : struct, Enum
    {
        var max = 0;
        foreach (var value in values)
        {
            max = Math.Max(max, Convert.ToInt32(value, CultureInfo.InvariantCulture));
        }

        return max + 1;
    }

    private long Fallbacks()
    {
        long sum = 0;
        foreach (var reason in Reasons)
        {
            sum += _fallbacks[(int)reason].Value;
        }

        return sum;
    }

    private static StripedCounter[] Create(int count)
    {
        var counters = new StripedCounter[count];
        for (var i = 0; i < count; i++)
        {
            counters[i] = new StripedCounter();
        }

        return counters;
    }
}
