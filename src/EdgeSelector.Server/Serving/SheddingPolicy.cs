using System.Diagnostics;
using EdgeSelector.Server.Configuration;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// The one overload policy of every front door (binary, RESP, admin HTTP), applied in one place,
/// <see cref="SelectionService.Select"/> (docs/performance.md, "Overload"):
/// <list type="bullet">
/// <item>shed by age at arrival: a request older than <c>MaxQueueDelayMs</c> when its turn comes is answered with
/// the default images (reason <c>Overload</c>) without reading a profile or a model. Its age counts from when the
/// server read its bytes (the batch's arrival), so time queued in the input pipe and behind earlier requests
/// counts whichever batch it ends up in; with <c>ShedByClientTimestamp</c> also from the client's send time;</item>
/// <item>the page deadline: titles of a page still undecided <c>DeadlineMs</c> after it started get their defaults
/// (reason <c>Deadline</c>); the first title is always decided.</item>
/// </list>
/// </summary>
internal sealed class SheddingPolicy
{
    /// <summary>A client timestamp older than this is a page-view or replayed time, not a send time: not an age.</summary>
    public const long ClientClockWindowMs = 60_000;

    private readonly long _maxQueueTicks;
    private readonly long _maxQueueMs;
    private readonly long _deadlineTicks;

    public SheddingPolicy(EdgeSelectorOptions options)
    {
        _maxQueueTicks = (long)(options.MaxQueueDelayMs * Stopwatch.Frequency / 1000.0);
        _maxQueueMs = (long)Math.Ceiling(options.MaxQueueDelayMs);
        _deadlineTicks = (long)(options.DeadlineMs * Stopwatch.Frequency / 1000.0);
        UsesClientTimestamp = options.ShedByClientTimestamp;
    }

    /// <summary>True when a request's <c>timestamp_ms</c> counts toward its age (<c>ShedByClientTimestamp</c>).</summary>
    public bool UsesClientTimestamp { get; }

    /// <summary>
    /// True when a request that the server read at <paramref name="arrivalTicks"/> (and the client stamped
    /// <paramref name="clientUnixMs"/>, 0 = not stamped) is too old to be worth scoring at <paramref name="nowTicks"/>.
    /// </summary>
    public bool IsTooOld(long nowTicks, long arrivalTicks, long clientUnixMs, long nowUnixMs)
    {
        if (nowTicks - arrivalTicks > _maxQueueTicks)
        {
            return true;
        }

        if (UsesClientTimestamp && clientUnixMs != 0)
        {
            var age = nowUnixMs - clientUnixMs;
            return age > _maxQueueMs && age <= ClientClockWindowMs;
        }

        return false;
    }

    /// <summary>The time (Stopwatch ticks) after which a page started at <paramref name="startTicks"/> decides no more titles.</summary>
    public long PageDeadline(long startTicks) => startTicks + _deadlineTicks;
}
