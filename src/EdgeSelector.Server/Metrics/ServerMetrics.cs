using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Serving;

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
/// touches is a striped counter: no lock, no allocation, no shared cache line.
/// </summary>
internal sealed partial class ServerMetrics
{
    /// <summary>Upper bounds of the latency histogram buckets, in microseconds.</summary>
    internal static readonly double[] LatencyBucketsMicros = [10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000];

    private static readonly string[] KindNames = ["select", "select_page", "reward", "ping", "error", "admin_select"];
    private static readonly double TicksToMicros = 1_000_000.0 / Stopwatch.Frequency;

    private readonly StripedCounter[] _requests = Create(KindNames.Length);
    private readonly StripedCounter[] _latencyBuckets = Create(KindNames.Length * (LatencyBucketsMicros.Length + 1));
    private readonly StripedCounter[] _latencySumMicros = Create(KindNames.Length);
    private readonly StripedCounter[] _fallbacks = Create(8);
    private readonly StripedCounter[] _rewards = Create(3);
    private readonly StripedCounter _selections = new();
    private readonly StripedCounter _impressionsLogged = new();
    private readonly StripedCounter _impressionsDropped = new();
    private readonly StripedCounter _protocolErrors = new();
    private readonly StripedCounter _connectionsRejected = new();
    private readonly StripedCounter _connectionsTotal = new();
    private long _connections;
    private long _inFlight;

    /// <summary>Open binary-protocol connections.</summary>
    public long Connections => Volatile.Read(ref _connections);

    /// <summary>Selections decided (one per title), all reasons.</summary>
    public long Selections => _selections.Value;

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

    /// <summary>Counts one decided title and its fallback reason.</summary>
    public void Selection(FallbackReason reason)
    {
        _selections.Increment();
        if (reason != FallbackReason.None)
        {
            _fallbacks[(int)reason & 7].Increment();
        }
    }

    /// <summary>How many decisions fell back for a reason.</summary>
    public long Fallbacks(FallbackReason reason) => _fallbacks[(int)reason & 7].Value;

    /// <summary>Counts a reward by how it was taken.</summary>
    public void Reward(RewardStatus status) => _rewards[(int)status % 3].Increment();

    /// <summary>Counts an impression appended to (or dropped by) the log.</summary>
    public void Impression(bool logged) => (logged ? _impressionsLogged : _impressionsDropped).Increment();

    /// <summary>Counts a protocol error answered with an ERROR frame.</summary>
    public void ProtocolError() => _protocolErrors.Increment();

    /// <summary>Tries to admit a connection under the limit.</summary>
    public bool TryOpenConnection(int max)
    {
        if (Interlocked.Increment(ref _connections) > max)
        {
            Interlocked.Decrement(ref _connections);
            _connectionsRejected.Increment();
            return false;
        }

        _connectionsTotal.Increment();
        return true;
    }

    /// <summary>A connection closed.</summary>
    public void CloseConnection() => Interlocked.Decrement(ref _connections);

    /// <summary>Requests being processed now.</summary>
    public void InFlight(int delta) => Interlocked.Add(ref _inFlight, delta);

    /// <summary>Writes the Prometheus text exposition (format 0.0.4).</summary>
    public string Render(ServerState state)
    {
        var sb = new StringBuilder(8192);
        var ci = CultureInfo.InvariantCulture;
        Header(sb, "edgeselector_requests_total", "counter", "Requests answered, by operation.");
        for (var k = 0; k < KindNames.Length; k++)
        {
            sb.Append(ci, $"edgeselector_requests_total{{op=\"{KindNames[k]}\"}} {_requests[k].Value}\n");
        }

        Header(sb, "edgeselector_request_duration_microseconds", "histogram", "Time from a request's frame being parsed to its response being written.");
        for (var k = 0; k < KindNames.Length; k++)
        {
            long cumulative = 0;
            for (var b = 0; b <= LatencyBucketsMicros.Length; b++)
            {
                cumulative += _latencyBuckets[(k * (LatencyBucketsMicros.Length + 1)) + b].Value;
                var le = b < LatencyBucketsMicros.Length ? LatencyBucketsMicros[b].ToString(ci) : "+Inf";
                sb.Append(ci, $"edgeselector_request_duration_microseconds_bucket{{op=\"{KindNames[k]}\",le=\"{le}\"}} {cumulative}\n");
            }

            sb.Append(ci, $"edgeselector_request_duration_microseconds_sum{{op=\"{KindNames[k]}\"}} {_latencySumMicros[k].Value}\n");
            sb.Append(ci, $"edgeselector_request_duration_microseconds_count{{op=\"{KindNames[k]}\"}} {cumulative}\n");
        }

        Header(sb, "edgeselector_selections_total", "counter", "Titles decided (one per title of a page).");
        sb.Append(ci, $"edgeselector_selections_total {_selections.Value}\n");
        Header(sb, "edgeselector_fallbacks_total", "counter", "Decisions answered with the default image, by reason.");
        for (var r = 1; r < 8; r++)
        {
            sb.Append(ci, $"edgeselector_fallbacks_total{{reason=\"{ReasonName((FallbackReason)r)}\"}} {_fallbacks[r].Value}\n");
        }

        Header(sb, "edgeselector_rewards_total", "counter", "Rewards received, by status.");
        sb.Append(ci, $"edgeselector_rewards_total{{status=\"accepted\"}} {_rewards[0].Value}\n");
        sb.Append(ci, $"edgeselector_rewards_total{{status=\"duplicate\"}} {_rewards[1].Value}\n");
        sb.Append(ci, $"edgeselector_rewards_total{{status=\"unknown_event\"}} {_rewards[2].Value}\n");
        Header(sb, "edgeselector_protocol_errors_total", "counter", "Frames answered with an ERROR frame.");
        sb.Append(ci, $"edgeselector_protocol_errors_total {_protocolErrors.Value}\n");
        Header(sb, "edgeselector_in_flight_requests", "gauge", "Requests being processed.");
        sb.Append(ci, $"edgeselector_in_flight_requests {Volatile.Read(ref _inFlight)}\n");
        Header(sb, "edgeselector_connections", "gauge", "Open binary-protocol connections.");
        sb.Append(ci, $"edgeselector_connections {Connections}\n");
        Header(sb, "edgeselector_connections_total", "counter", "Binary-protocol connections accepted.");
        sb.Append(ci, $"edgeselector_connections_total {_connectionsTotal.Value}\n");
        Header(sb, "edgeselector_connections_rejected_total", "counter", "Connections closed at once because MaxConnections was reached.");
        sb.Append(ci, $"edgeselector_connections_rejected_total {_connectionsRejected.Value}\n");
        Header(sb, "edgeselector_models", "gauge", "Titles with a model in the active bundle.");
        sb.Append(ci, $"edgeselector_models {state.Models.TitleCount}\n");
        Header(sb, "edgeselector_model_bundle_version", "gauge", "Version of the active model bundle (and the previous one).");
        sb.Append(ci, $"edgeselector_model_bundle_version{{which=\"active\"}} {state.Models.Version}\n");
        sb.Append(ci, $"edgeselector_model_bundle_version{{which=\"previous\"}} {state.Models.PreviousVersion}\n");
        Header(sb, "edgeselector_store_bytes", "gauge", "Bytes of each store's hybrid log (tail minus begin/head).");
        sb.Append(ci, $"edgeselector_store_bytes{{store=\"profiles\"}} {state.Profiles.TailAddress - state.Profiles.HeadAddress}\n");
        sb.Append(ci, $"edgeselector_store_bytes{{store=\"impressions\"}} {state.ImpressionLogBytes}\n");
        Header(sb, "edgeselector_impressions_total", "counter", "Impressions appended to the log, and dropped (log full or failed).");
        sb.Append(ci, $"edgeselector_impressions_total{{result=\"logged\"}} {_impressionsLogged.Value}\n");
        sb.Append(ci, $"edgeselector_impressions_total{{result=\"dropped\"}} {_impressionsDropped.Value}\n");
        Header(sb, "edgeselector_impression_log_lag_bytes", "gauge", "Bytes appended to the impression log but not yet committed to disk.");
        sb.Append(ci, $"edgeselector_impression_log_lag_bytes {state.ImpressionLogLagBytes}\n");
        Header(sb, "edgeselector_gc_collections_total", "counter", "Garbage collections by generation (steady-state serving should not move these).");
        for (var g = 0; g <= 2; g++)
        {
            sb.Append(ci, $"edgeselector_gc_collections_total{{generation=\"{g}\"}} {GC.CollectionCount(g)}\n");
        }

        Header(sb, "edgeselector_allocated_bytes_total", "counter", "Bytes allocated by the process since start (GC.GetTotalAllocatedBytes).");
        sb.Append(ci, $"edgeselector_allocated_bytes_total {GC.GetTotalAllocatedBytes()}\n");
        return sb.ToString();
    }

    /// <summary>The label value of a fallback reason in /metrics.</summary>
    public static string ReasonName(FallbackReason reason) => reason switch
    {
        FallbackReason.None => "none",
        FallbackReason.UnknownTitle => "unknown_title",
        FallbackReason.NoModel => "no_model",
        FallbackReason.CorruptModel => "corrupt_model",
        FallbackReason.NoProfile => "no_profile",
        FallbackReason.Deadline => "deadline",
        FallbackReason.Overload => "overload",
        _ => "internal_error",
    };

    private static void Header(StringBuilder sb, string name, string type, string help) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

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
