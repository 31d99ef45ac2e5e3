using System.Diagnostics;
using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Serving;
using EdgeSelector.Storage.Impressions;

namespace EdgeSelector.Server.Tests;

/// <summary>
/// A title whose model read throws out of the store (FaultInjection at the read, outside the scorer's own catch: the
/// exception leaves FASTER's read callback): that title gets its default image with reason InternalError
/// (docs/protocol.md), the page's other titles are decided, the page is logged with the fallback as
/// docs/impression-log.md says (propensity 1, model version 0, no candidates, reason 7), the fallback is counted, and
/// the connection's session (its FASTER session, epoch and page scorer) serves its next batches normally. A batch whose
/// entry into the stores throws answers every title so, instead of failing the page (and the connection).
/// </summary>
public sealed class ModelReadFaultTests : IDisposable
{
    private const uint Faulty = 1002;

    private readonly TestNode _node = TestNode.Start();

    public void Dispose() => _node.Dispose();

    [Fact]
    public void Select_ModelReadThrows_DefaultImage_InternalError_Logged_Counted_SessionStillServes()
    {
        _node.StoreProfile(21);
        using var session = _node.Session();

        _node.Node.Selection.FaultInjectionReadTitleId = Faulty;
        var failed = SelectOne(session, Member(21), Faulty);
        _node.Node.Selection.FaultInjectionReadTitleId = 0;

        AssertFallback(failed, Faulty);
        Assert.Equal(1, _node.Node.Metrics.Fallbacks(FallbackReason.InternalError));

        // The same connection, next batches: the same title and another are decided by the model.
        var again = SelectOne(session, Member(21), Faulty);
        var other = SelectOne(session, Member(21), 1003);
        Assert.Equal(FallbackReason.None, again.Reason);
        Assert.Equal(1ul, again.ModelVersion);
        Assert.Equal(FallbackReason.None, other.Reason);
        Assert.Equal(1, _node.Node.Metrics.Fallbacks(FallbackReason.InternalError));
        Assert.Equal(2, _node.Node.Metrics.Decisions(withProfile: true));

        var pages = LoggedTitles();
        Assert.Equal(3, pages.Count);
        AssertLoggedFallback(Assert.Single(pages[0]), failed);
        Assert.Equal(FallbackReason.None, Assert.Single(pages[1]).Fallback);
        Assert.Equal(FallbackReason.None, Assert.Single(pages[2]).Fallback);
    }

    [Fact]
    public void SelectPage_ModelReadThrowsForOneTitle_ThatTitleDefault_InternalError_OthersDecided_SessionStillServes()
    {
        _node.StoreProfile(22);
        using var session = _node.Session();
        var titles = TestNode.Titles;
        var faultAt = Array.IndexOf(titles, Faulty);

        _node.Node.Selection.FaultInjectionReadTitleId = Faulty;
        var results = TestNode.SelectPage(session, Member(22), titles);
        _node.Node.Selection.FaultInjectionReadTitleId = 0;

        Assert.Equal(titles, results.Select(r => r.TitleId));
        AssertFallback(results[faultAt], Faulty);
        for (var i = 0; i < results.Length; i++)
        {
            if (i != faultAt)
            {
                Assert.Equal(FallbackReason.None, results[i].Reason);
                Assert.Equal(1ul, results[i].ModelVersion);
            }
        }

        Assert.Equal(1, _node.Node.Metrics.Fallbacks(FallbackReason.InternalError));
        Assert.Equal(titles.Length - 1, _node.Node.Metrics.Decisions(withProfile: true));

        // The same connection's next page: every title decided, the faulty one included.
        var next = TestNode.SelectPage(session, Member(22), titles);
        Assert.All(next, r => Assert.Equal(FallbackReason.None, r.Reason));
        Assert.Equal(1, _node.Node.Metrics.Fallbacks(FallbackReason.InternalError));

        var pages = LoggedTitles();
        Assert.Equal(2, pages.Count);
        Assert.Equal(titles.Length, pages[0].Count);
        AssertLoggedFallback(pages[0][faultAt], results[faultAt]);
        Assert.Equal(titles.Length - 1, pages[0].Count(t => t.Fallback == FallbackReason.None && t.ModelVersion == 1 && t.CandidateCount == 3));
        Assert.All(pages[1], t => Assert.Equal(FallbackReason.None, t.Fallback));
    }

    [Fact]
    public void SelectPage_StoresCannotBeEnteredForTheBatch_EveryTitleDefault_InternalError_Logged_SessionStillServes()
    {
        _node.StoreProfile(23);
        using var session = _node.Session();
        uint[] titles = [1001, Faulty, 1003];

        _node.Node.Selection.FaultInjectionEnterStores = true;
        var results = TestNode.SelectPage(session, Member(23), titles);
        _node.Node.Selection.FaultInjectionEnterStores = false;

        for (var i = 0; i < titles.Length; i++)
        {
            AssertFallback(results[i], titles[i]);
        }

        Assert.Equal(titles.Length, _node.Node.Metrics.Fallbacks(FallbackReason.InternalError));

        var next = TestNode.SelectPage(session, Member(23), titles);
        Assert.All(next, r => Assert.Equal(FallbackReason.None, r.Reason));

        var pages = LoggedTitles();
        Assert.Equal(2, pages.Count);
        for (var i = 0; i < titles.Length; i++)
        {
            AssertLoggedFallback(pages[0][i], results[i]);
        }

        Assert.All(pages[1], t => Assert.Equal(FallbackReason.None, t.Fallback));
    }

    private static void AssertFallback(in SelectResult result, uint title)
    {
        Assert.Equal(title, result.TitleId);
        Assert.Equal(FallbackReason.InternalError, result.Reason);
        Assert.Equal((title * 100) + 1, result.ImageId); // the title's default image
        Assert.Equal(1f, result.Propensity);
        Assert.Equal(0ul, result.ModelVersion);
    }

    // docs/impression-log.md: a fallback is logged with its default image, propensity 1, model version 0, no candidates
    // and its reason (7, internal error), under the event id it was answered with.
    private static void AssertLoggedFallback(in LoggedTitle logged, in SelectResult result)
    {
        Assert.Equal(result.EventId, logged.EventId);
        Assert.Equal(result.TitleId, logged.TitleId);
        Assert.Equal(FallbackReason.InternalError, logged.Fallback);
        Assert.Equal(result.ImageId, logged.ChosenImageId);
        Assert.Equal(1d, logged.Propensity);
        Assert.Equal(0ul, logged.ModelVersion);
        Assert.Equal(0, logged.CandidateCount);
    }

    private static SelectResult SelectOne(ServingSession session, in RequestContext context, uint title)
    {
        var now = Stopwatch.GetTimestamp();
        session.BeginBatch(new Batch(now, now));
        var result = session.SelectOne(in context, new TitleCandidate(title, 0.5f, false));
        session.EndBatch();
        return result;
    }

    // Every page in the log, in order, each as its titles' logged decisions.
    private List<List<LoggedTitle>> LoggedTitles()
    {
        var log = _node.Node.Stores.Impressions!;
        log.Commit();
        var pages = new Pages();
        log.ReadRecent(long.MaxValue / 2, 10_000, pages);
        return pages.List;
    }

    private readonly record struct LoggedTitle(ulong EventId, uint TitleId, uint ChosenImageId, FallbackReason Fallback, double Propensity, ulong ModelVersion, int CandidateCount);

    private readonly struct Pages() : IImpressionConsumer
    {
        public List<List<LoggedTitle>> List { get; } = [];

        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            Assert.True(ImpressionPageReader.TryRead(record, out var page), $"entry at {address} is not a page");
            var titles = new List<LoggedTitle>(page.Count);
            for (var i = 0; i < page.Count; i++)
            {
                var t = page.GetTitle(i);
                titles.Add(new LoggedTitle(page.EventId(i), t.TitleId, t.ChosenImageId, t.Fallback, t.Propensity, t.ModelVersion, t.CandidateCount));
            }

            List.Add(titles);
        }
    }
}
