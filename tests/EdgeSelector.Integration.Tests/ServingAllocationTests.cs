using System.Diagnostics;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;
using Xunit.Abstractions;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// The serving path allocates nothing per request once warm (the claim in SelectionService's summary): pages scored
/// and pages shed, with the impression log off and on. Bytes counted on the calling thread over windows of 2,000 +
/// 2,000 pages of 12 titles, and by /metrics' serving allocation counter over a loaded run over TCP; a one-off piece
/// of deferred work may land in one window, a cost per request would show in every one.
/// With the log on, serving threads only copy each page's entry into the log's appender ring
/// (<c>ImpressionLog.TryPost</c>); FasterLog, whose page turns and commits allocate, runs on the appender thread.
/// Without the ring (<c>ImpressionLogRingMB=0</c>) FasterLog ran that work on whichever thread next entered its epoch,
/// often a serving thread: 4.4 B/request (docs/performance.md, "Serving per batch").
/// The class runs alone (<see cref="AllocationCountingCollection"/>): with other servers of a full parallel run
/// competing for two cores a window once took long enough to catch unrelated one-off work.
/// </summary>
[Collection(AllocationCountingCollection.Name)]
public class ServingAllocationTests(ITestOutputHelper output)
{
    // Connections of the loaded runs: each may grow a buffer once, which bounds what the windows may hold together.
    private const int Connections = 4;

    [Fact]
    public async Task Select_ScoredAndShedPages_LogOff_AllocateNothing()
    {
        var windows = await MeasureAsync("--EdgeSelector:LogImpressions=false");
        Assert.True(windows.Count(w => w == 0) >= 2, $"allocated {string.Join(", ", windows)} bytes in three windows of 2,000 scored and 2,000 shed pages");
        Assert.True(windows.Sum() < 8_192, $"allocated {string.Join(", ", windows)} bytes in three windows of 2,000 scored and 2,000 shed pages");
    }

    [Fact]
    public async Task Select_ScoredAndShedPages_LogOn_AllocateNothing()
    {
        var windows = await MeasureAsync("--EdgeSelector:LogImpressions=true");
        output.WriteLine($"log on: {string.Join(", ", windows)} bytes in three windows of 4,000 requests (48,000 impressions)");
        Assert.True(windows.Count(w => w == 0) >= 2, $"allocated {string.Join(", ", windows)} bytes in three windows of 4,000 requests (48,000 impressions)");
        Assert.True(windows.Sum() < 8_192, $"allocated {string.Join(", ", windows)} bytes in three windows of 4,000 requests (48,000 impressions)");
    }

    [Theory]
    [InlineData(false, 5)]
    [InlineData(true, 5)]
    [InlineData(true, 1000)]
    public async Task Metrics_LoadedRunOverTcp_ServingThreadsAllocateNothing(bool logImpressions, int commitIntervalMs)
    {
        // Three windows of 10,240 requests (4 connections × 64 pipelined, ~160 batches each). Issue 12.6's target:
        // 0 B/request in steady state, log on: a window with at most two small one-off objects (usually exactly 0; on a
        // loaded machine single 96-byte objects were seen in every window of a run, log on and off alike, at most one
        // per window: about 0.01 B/request), and no more in all three than one-off buffers, at most one per connection
        // (a buffer a connection or a thread grows once, seen at 4,448 and 8,320 bytes; CI once saw two of 8,320 in one
        // run, 16,640 in all), far below one object per request (≥ 245 KB per window).
        string[] settings = [$"--EdgeSelector:LogImpressions={(logImpressions ? "true" : "false")}", $"--EdgeSelector:LogCommitIntervalMs={commitIntervalMs}"];
        var windows = await LoadedRunAsync(settings);
        Report(settings, windows);
        Assert.All(windows, w => Assert.True(w.Requests >= 10_000, $"{w.Requests} requests counted"));
        Assert.True(windows.Any(w => w.Bytes <= 192), $"serving threads allocated {Describe(windows)}");
        Assert.True(windows.Sum(w => w.Bytes) <= Connections * 8_320, $"serving threads allocated {Describe(windows)}");
    }

    [Fact]
    public async Task Metrics_LoadedRunOverTcp_LogOnWithoutRing_CountedAndBelowOneObjectPerRequest()
    {
        // ImpressionLogRingMB=0: serving threads append to FasterLog themselves and run its page flushes and commit
        // bookkeeping (measured 4.4 B/request with a commit every 5 ms). The counter must see that; an object per
        // request on top (24 B or more) fails this.
        string[] settings = ["--EdgeSelector:LogImpressions=true", "--EdgeSelector:ImpressionLogRingMB=0"];
        var windows = await LoadedRunAsync(settings);
        Report(settings, windows);
        var bytes = windows.Sum(w => w.Bytes);
        var requests = windows.Sum(w => w.Requests);
        Assert.True(requests >= 30_000, $"{requests} requests counted");
        Assert.True(bytes < requests * 24L, $"serving threads allocated {Describe(windows)}");
    }

    private static string Describe((long Bytes, long Requests)[] windows) =>
        string.Join(", ", windows.Select(w => $"{w.Bytes} bytes over {w.Requests} requests"));

    private void Report(string[] settings, (long Bytes, long Requests)[] windows)
    {
        var bytes = windows.Sum(w => w.Bytes);
        var requests = windows.Sum(w => w.Requests);
        output.WriteLine($"{string.Join(' ', settings)}: {Describe(windows)}; {(double)bytes / requests:F3} B/request");
    }

    // A bounded loaded run over TCP (4 connections, 64 pipelined SELECTs each, 40 rounds warm-up then three windows of
    // 40), the bytes read from /metrics' serving allocation counter around each window: what serving threads allocated
    // inside their batches, and the requests of those batches.
    private static async Task<(long Bytes, long Requests)[]> LoadedRunAsync(params string[] settings)
    {
        await using var server = await LiveServer.StartAsync(extra: settings);
        await using var client = server.Client(connections: Connections);
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
            var deadline = Stopwatch.StartNew();
            while (impressions.TailAddress - from < 20L << 20 && deadline.Elapsed < TimeSpan.FromMinutes(2))
            {
                driver.Select(in context, titles, results, Stopwatch.GetTimestamp());
            }
        }

        // The connections idled meanwhile: Kestrel's memory pool gives idle blocks back and takes new ones on the next
        // reads (a one-off of ~8 KB seen in the first window after this pause). Warm them again.
        await RoundsAsync(10);

        var windows = new (long Bytes, long Requests)[3];
        var (bytes0, requests0) = await ServingCountersAsync(server);
        for (var w = 0; w < windows.Length; w++)
        {
            await RoundsAsync(40);
            var (bytes1, requests1) = await ServingCountersAsync(server);
            windows[w] = (bytes1 - bytes0, requests1 - requests0);
            (bytes0, requests0) = (bytes1, requests1);
        }

        return windows;
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
            var deadline = Stopwatch.StartNew();
            while (impressions.TailAddress - from < 20L << 20 && deadline.Elapsed < TimeSpan.FromMinutes(2))
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
