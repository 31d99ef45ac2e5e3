using System.Diagnostics;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// The serving path allocates nothing per request once warm (the claim in SelectionService's summary): pages scored
/// and pages shed. Bytes counted on the calling thread over windows of 2,000 + 2,000 pages of 12 titles; a one-off
/// piece of deferred FASTER epoch work may land in one window, a cost per request would show in every one. With the
/// impression log on, FasterLog allocates a few KB each time its tail moves to a new page (every ~40,000
/// impressions here, ~4.5 KB per window measured): bounded below well under one object per request.
/// The class runs alone (<see cref="AllocationCountingCollection"/>): FASTER runs deferred epoch work (page flushes
/// after a commit) on whichever thread next refreshes the epoch, often the enqueuing one, so the bytes in a window
/// follow the number of commits in it, that is wall time; with other servers of a full parallel run competing for
/// two cores a window once took long enough to pass the bound.
/// </summary>
[Collection(AllocationCountingCollection.Name)]
public class ServingAllocationTests
{
    [Fact]
    public async Task Select_ScoredAndShedPages_LogOff_AllocateNothing()
    {
        var windows = await MeasureAsync("--EdgeSelector:LogImpressions=false");
        Assert.True(windows.Count(w => w == 0) >= 2, $"allocated {string.Join(", ", windows)} bytes in three windows of 2,000 scored and 2,000 shed pages");
        Assert.True(windows.Sum() < 8_192, $"allocated {string.Join(", ", windows)} bytes in three windows of 2,000 scored and 2,000 shed pages");
    }

    [Fact]
    public async Task Select_ScoredAndShedPages_LogOn_AllocateOnlyPerLogPage()
    {
        // One 24-byte object per request would be 96 KB per window.
        var windows = await MeasureAsync("--EdgeSelector:LogImpressions=true");
        Assert.True(windows.All(w => w < 16_384), $"allocated {string.Join(", ", windows)} bytes in three windows of 4,000 requests (48,000 impressions)");
    }

    private static async Task<long[]> MeasureAsync(string log)
    {
        await using var server = await LiveServer.StartAsync(extra: log);
        var selection = server.Node.Selection;
        var titles = Enumerable.Range(1001, 12).Select(t => new TitleCandidate((uint)t, 0.5f, false)).ToArray();
        var results = new SelectResult[titles.Length];
        var longAgo = Stopwatch.GetTimestamp() - (60 * Stopwatch.Frequency); // older than MaxQueueDelayMs (10 s here)
        var scored = 0;
        var shed = 0;

        void Run(int pages)
        {
            for (var i = 0; i < pages; i++)
            {
                var context = new RequestContext { MemberId = (ulong)(i % 5_000) + 1, Country = CountryCode.Pack("US"), HourOfDay = 20, DayOfWeek = 3 };
                selection.Select(in context, titles, results, Stopwatch.GetTimestamp());
                scored += results.Count(r => r.Reason == FallbackReason.None);
                selection.Select(in context, titles, results, longAgo);
                shed += results.Count(r => r.Reason == FallbackReason.Overload);
            }
        }

        Run(2_000);
        var windows = new long[3];
        for (var w = 0; w < windows.Length; w++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 2_000; i++)
            {
                var context = new RequestContext { MemberId = (ulong)(i % 5_000) + 1, Country = CountryCode.Pack("US"), HourOfDay = 20, DayOfWeek = 3 };
                selection.Select(in context, titles, results, Stopwatch.GetTimestamp());
                selection.Select(in context, titles, results, longAgo);
            }

            windows[w] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(2_000 * 12, scored);
        Assert.Equal(2_000 * 12, shed);
        return windows;
    }
}

/// <summary>Tests that count the bytes their thread allocates run with no other test of this assembly beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationCountingCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "allocation counting";
}
