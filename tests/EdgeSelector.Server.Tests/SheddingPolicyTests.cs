using System.Diagnostics;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Tests;

/// <summary>The one overload policy: age counts from arrival (whatever batch a request lands in), and from the client's stamp when trusted. No sockets.</summary>
public class SheddingPolicyTests
{
    private static readonly long Ms = Stopwatch.Frequency / 1000;

    [Fact]
    public void IsTooOld_CountsFromArrival_NotFromWhenItsBatchStarted()
    {
        var policy = new SheddingPolicy(new EdgeSelectorOptions { MaxQueueDelayMs = 50 });
        var now = Stopwatch.GetTimestamp();
        Assert.False(policy.IsTooOld(now, now - (49 * Ms), 0, 0));
        // Read 60 ms ago (it waited in the pipe behind a paused batch): shed, though its own batch just began.
        Assert.True(policy.IsTooOld(now, now - (60 * Ms), 0, 0));
    }

    [Fact]
    public void IsTooOld_ClientStamp_CountsOnlyWhenSwitchedOnAndWithinTheClockWindow()
    {
        var nowUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var now = Stopwatch.GetTimestamp();
        var off = new SheddingPolicy(new EdgeSelectorOptions { MaxQueueDelayMs = 50 });
        Assert.False(off.IsTooOld(now, now, nowUnixMs - 5_000, nowUnixMs));

        var on = new SheddingPolicy(new EdgeSelectorOptions { MaxQueueDelayMs = 50, ShedByClientTimestamp = true });
        Assert.False(on.IsTooOld(now, now, nowUnixMs - 10, nowUnixMs));
        Assert.True(on.IsTooOld(now, now, nowUnixMs - 5_000, nowUnixMs)); // queued 5 s before the server could read it
        Assert.False(on.IsTooOld(now, now, nowUnixMs - 86_400_000, nowUnixMs)); // a day old: a replayed time, not a send time
        Assert.False(on.IsTooOld(now, now, 0, nowUnixMs)); // not stamped
    }

    [Fact]
    public void PageDeadline_IsDeadlineMsAfterThePageStarted()
    {
        var policy = new SheddingPolicy(new EdgeSelectorOptions { DeadlineMs = 5 });
        Assert.Equal(1_000 + (long)(5 * Stopwatch.Frequency / 1000.0), policy.PageDeadline(1_000));
    }
}
