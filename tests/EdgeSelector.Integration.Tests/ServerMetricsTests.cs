using System.Diagnostics;
using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Metrics;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// The metric arrays are sized from their enums: every member of every counted enum (including one added later) has a
/// counter and a label of its own, so nothing merges silently. No sockets.
/// </summary>
public class ServerMetricsTests
{
    [Fact]
    public void Fallback_EveryReason_HasItsOwnCounterAndLabel()
    {
        var metrics = new ServerMetrics();
        var reasons = Enum.GetValues<FallbackReason>();
        for (var i = 0; i < reasons.Length; i++)
        {
            for (var n = 0; n <= i; n++)
            {
                metrics.Fallback(reasons[i]);
            }
        }

        for (var i = 0; i < reasons.Length; i++)
        {
            Assert.Equal(i + 1, metrics.Fallbacks(reasons[i]));
        }

        AssertNamed(reasons.Select(ServerMetrics.ReasonName));
    }

    [Fact]
    public void Reward_EveryStatus_HasItsOwnCounterAndLabel()
    {
        var metrics = new ServerMetrics();
        var statuses = Enum.GetValues<RewardStatus>();
        for (var i = 0; i < statuses.Length; i++)
        {
            for (var n = 0; n <= i; n++)
            {
                metrics.Reward(statuses[i]);
            }
        }

        for (var i = 0; i < statuses.Length; i++)
        {
            Assert.Equal(i + 1, metrics.Rewards(statuses[i]));
        }

        AssertNamed(statuses.Select(ServerMetrics.StatusName));
    }

    [Fact]
    public void Request_EveryKind_HasItsOwnCounterAndLabel()
    {
        var metrics = new ServerMetrics();
        var kinds = Enum.GetValues<RequestKind>();
        for (var i = 0; i < kinds.Length; i++)
        {
            for (var n = 0; n <= i; n++)
            {
                metrics.Request(kinds[i], Stopwatch.GetTimestamp());
            }
        }

        for (var i = 0; i < kinds.Length; i++)
        {
            Assert.Equal(i + 1, metrics.Requests(kinds[i]));
        }

        AssertNamed(kinds.Select(ServerMetrics.KindName));
    }

    [Fact]
    public void NoProfileDecision_IsAModelDecision_NotAFallback()
    {
        var metrics = new ServerMetrics();
        metrics.Decided(withProfile: false);
        metrics.Decided(withProfile: true);
        metrics.Fallback(FallbackReason.UnknownTitle);
        Assert.Equal(1, metrics.Decisions(withProfile: false));
        Assert.Equal(1, metrics.Decisions(withProfile: true));
        Assert.Equal(0, metrics.Fallbacks(FallbackReason.NoProfile));
        Assert.Equal(3, metrics.Selections);
    }

    private static void AssertNamed(IEnumerable<string> labels)
    {
        var all = labels.ToList();
        Assert.Equal(all.Count, all.Distinct(StringComparer.Ordinal).Count());
        Assert.DoesNotContain(all, l => l.StartsWith("unnamed_", StringComparison.Ordinal));
    }
}
