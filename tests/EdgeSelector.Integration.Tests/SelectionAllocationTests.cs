using System.Diagnostics;
using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// The selection path the connection handlers call, in process against the real stores and the impression log: one id
/// reservation per page, one page entry (on the stack, or pooled past 99 titles), a tag per title, one enqueue, and
/// no allocation per request. Runs alone: FASTER's epoch can run another thread's deferred work on whichever thread
/// enters it next, and a measurement must not pick up another test's work.
/// </summary>
[Collection(Name)]
public sealed class SelectionAllocationTests
{
    public const string Name = "SelectionAllocation";

    [Theory]
    [InlineData(1)]
    [InlineData(40)]
    [InlineData(256)]
    public async Task Select_WithTheLogOn_PageEntryIdsAndTagsAllocateNothingPerRequest(int titleCount)
    {
        await using var server = await LiveServer.StartAsync();
        var titles = Enumerable.Range(0, titleCount).Select(i => new TitleCandidate((uint)(1001 + (i % 12)), 0.5f, i % 2 == 0)).ToArray();
        var results = new SelectResult[titleCount];
        using var selection = new ServingDriver(server.Node);
        var log = server.Node.Stores.Impressions!;
        var member = Member(1);

        // Warm up past the log's whole in-memory ring (8 MB here): FasterLog allocates each page buffer the first time
        // the tail reaches it, once per process.
        var start = log.TailAddress;
        while (log.TailAddress - start < 20L << 20)
        {
            selection.Select(member, titles, results, Stopwatch.GetTimestamp());
        }

        // FasterLog itself allocates a little (~2 KB of epoch bookkeeping, Storage.Tests' AllocationTests) each time its
        // tail turns a 1 MB page, and an append may run epoch work another thread deferred; a cost per request would
        // show in every call. So: count the calls that allocate, against the page turns of the bytes appended.
        const int calls = 2_000;
        log.Commit(); // the warm-up's pages out of the ring: the loop below starts on an empty one
        var from = log.TailAddress;
        long total = 0;
        var allocating = 0;
        for (var i = 0; i < calls; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            selection.Select(member, titles, results, Stopwatch.GetTimestamp());
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            total += allocated;
            allocating += allocated > 0 ? 1 : 0;
        }

        // Posted pages reach the log's tail through the appender ring: commit (which drains the ring first) before reading it.
        log.Commit();
        var pageTurns = ((log.TailAddress - from) >> 20) + 1;
        Assert.True(allocating <= (2 * pageTurns) + 5, $"{allocating} of {calls} selections of {titleCount} titles allocated ({total} bytes; {pageTurns} log page turns)");
        Assert.True(total <= 4_096 * (pageTurns + 1), $"{total} bytes allocated by {calls} selections of {titleCount} titles ({pageTurns} log page turns)");
        Assert.All(results, r => Assert.Equal(server.Node.EventTags.Tag(r.EventId), r.EventTag));
        Assert.True(log.TailAddress - from >= calls * (long)ImpressionPage.SizeOf(titleCount), "every page was logged");
    }
}

[CollectionDefinition(SelectionAllocationTests.Name, DisableParallelization = true)]
public sealed class SelectionAllocationCollection;
