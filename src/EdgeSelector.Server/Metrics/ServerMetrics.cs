using System.Diagnostics;
using System.Globalization;
using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;

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
    // Striped: every serving thread adds and removes each request, so one shared word would bounce between the cores
    // twice per request; a request's +1 and -1 may land in different stripes (the thread moved), the sum is exact.
    private readonly StripedCounter _inFlight = new();

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
    public void InFlight(int delta) => _inFlight.Add(delta);

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
