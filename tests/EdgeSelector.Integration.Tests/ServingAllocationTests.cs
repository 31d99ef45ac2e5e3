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
/// impressions here, ~4.5 KB per window measured; the ring's page buffers are allocated once, before the windows):
/// bounded below well under one object per request.
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

    [Fact]
    public async Task Metrics_LoadedRunOverTcp_LogOff_ServingThreadsAllocateNothing()
    {
        // Measured 0 and 4,448 bytes over 20,480 requests in ~330 batches (a one-off: a buffer a connection or a
        // thread grows once). The bound leaves room for that but not for an object per request (≥ 490 KB).
        var (bytes, requests) = await LoadedRunAsync("--EdgeSelector:LogImpressions=false");
        Assert.True(requests >= 20_000, $"{requests} requests counted");
        Assert.True(bytes <= 16_384, $"{bytes} bytes allocated by serving threads over {requests} requests ({(double)bytes / requests:F2} B/request)");
    }

    [Theory]
    [InlineData(5, 24)]
    [InlineData(1000, 1)]
    public async Task Metrics_LoadedRunOverTcp_LogOn_CountedAndBelowOneObjectPerRequest(int commitIntervalMs, int bytesPerRequest)
    {
        // Issue 12.6's target is 0 B/request with the log on; it is not met yet. FasterLog runs a commit's page flush on
        // whichever thread next enters its epoch, and under load that is a serving thread: measured 4.4 B/request with
        // a commit every 5 ms (the default) and 0.16 B/request with one a second (docs/performance.md, issue 12). The
        // counter must see it; a cost per request on top (24 B or more) fails this.
        var (bytes, requests) = await LoadedRunAsync("--EdgeSelector:LogImpressions=true", $"--EdgeSelector:LogCommitIntervalMs={commitIntervalMs}");
        Assert.True(requests >= 20_000, $"{requests} requests counted");
        Assert.True(bytes < requests * (long)bytesPerRequest, $"{bytes} bytes allocated by serving threads over {requests} requests ({(double)bytes / requests:F2} B/request)");
    }

    // A bounded loaded run over TCP (4 connections, 64 pipelined SELECTs each, 10 rounds warm-up then 20 measured), the
    // bytes read from /metrics' serving allocation counter before and after: what serving threads allocated inside
    // their batches, and the requests of those batches.
    private static async Task<(long Bytes, long Requests)> LoadedRunAsync(params string[] settings)
    {
        await using var server = await LiveServer.StartAsync(extra: settings);
        await using var client = server.Client(connections: 4);
        var title = new TitleCandidate(1001, 0.5f, false);
        async Task RoundsAsync(int rounds)
        {
            for (var r = 0; r < rounds; r++)
            {
                var calls = new Task<SelectResult>[256];
                for (var i = 0; i < calls.Length; i++)
                {
                    var context = new RequestContext { MemberId = (ulong)((r * calls.Length) + i + 1), Country = CountryCode.Pack("US"), HourOfDay = 20, DayOfWeek = 3 };
                    calls[i] = client.SelectAsync(context, new TitleCandidate((uint)(1001 + (i % 12)), title.Score, false));
                }

                await Task.WhenAll(calls);
            }
        }

        await RoundsAsync(40);

        // Past the impression log's whole in-memory ring first: FasterLog allocates each page buffer the first time its
        // tail reaches it (1 MB each, once per process), which a run of this size would otherwise count in full.
        if (server.Node.Stores.Impressions is { } impressions)
        {
            using var driver = new ServingDriver(server.Node);
            var titles = Enumerable.Range(1001, 12).Select(t => new TitleCandidate((uint)t, 0.5f, false)).ToArray();
            var results = new SelectResult[titles.Length];
            var from = impressions.TailAddress;
            var context = new RequestContext { MemberId = 1, Country = CountryCode.Pack("US"), HourOfDay = 20, DayOfWeek = 3 };
            while (impressions.TailAddress - from < 20L << 20)
            {
                driver.Select(in context, titles, results, System.Diagnostics.Stopwatch.GetTimestamp());
            }
        }

        var (bytes0, requests0) = await ServingCountersAsync(server);
        await RoundsAsync(80);
        var (bytes1, requests1) = await ServingCountersAsync(server);
        return (bytes1 - bytes0, requests1 - requests0);
    }

    private static async Task<(long Bytes, long Requests)> ServingCountersAsync(LiveServer server)
    {
        var text = await server.Anonymous.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        return (Value(text, "edgeselector_serving_allocated_bytes_total"), Value(text, "edgeselector_serving_requests_total"));

        static long Value(string text, string name)
        {
            foreach (var line in text.Split('\n'))
            {
                if (line.StartsWith(name + " ", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(name.Length + 1), System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            throw new InvalidOperationException($"{name} is not in /metrics");
        }
    }

    private static async Task<long[]> MeasureAsync(string log)
    {
        await using var server = await LiveServer.StartAsync(extra: log);
        using var selection = new ServingDriver(server.Node);
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

        // Then past the impression log's whole in-memory ring: FasterLog allocates each page buffer the first time its
        // tail reaches it, once per process (page entries are small, so 2,000 pages no longer cover the ring).
        if (server.Node.Stores.Impressions is { } impressions)
        {
            var from = impressions.TailAddress;
            while (impressions.TailAddress - from < 20L << 20)
            {
                var context = new RequestContext { MemberId = 1, Country = CountryCode.Pack("US"), HourOfDay = 20, DayOfWeek = 3 };
                selection.Select(in context, titles, results, Stopwatch.GetTimestamp());
            }
        }

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
