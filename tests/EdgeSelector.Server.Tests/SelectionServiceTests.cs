using EdgeSelector.Protocol;

namespace EdgeSelector.Server.Tests;

/// <summary>
/// The request path (SelectionService through a connection's ServingSession) without sockets: each reason a title
/// gets, one log entry per page, shedding and the page deadline answered with the default images.
/// </summary>
public sealed class SelectionServiceTests : IDisposable
{
    private readonly TestNode _node = TestNode.Start();

    public void Dispose() => _node.Dispose();

    [Fact]
    public void Select_StoredProfile_TheModelDecides_ReasonNone()
    {
        _node.StoreProfile(7);

        var result = Assert.Single(_node.SelectPage(Member(7), [1001]));

        Assert.Equal(FallbackReason.None, result.Reason);
        Assert.InRange(result.ImageId, 100101u, 100103u);
        Assert.Equal(1ul, result.ModelVersion);
        Assert.InRange(result.Propensity, 0.01f, 1f);
        Assert.Equal(_node.Node.EventTags.Tag(result.EventId), result.EventTag);
        Assert.Equal(1, _node.Node.Metrics.Decisions(withProfile: true));
    }

    [Fact]
    public void Select_NoStoredProfile_TheModelDecidesFromTheContext_ReasonNoProfile()
    {
        var result = Assert.Single(_node.SelectPage(Member(8), [1002]));

        Assert.Equal(FallbackReason.NoProfile, result.Reason);
        Assert.InRange(result.ImageId, 100201u, 100203u);
        Assert.Equal(1ul, result.ModelVersion);
        Assert.Equal(0, _node.Node.Metrics.Fallbacks(FallbackReason.NoProfile));
        Assert.Equal(1, _node.Node.Metrics.Decisions(withProfile: false));
    }

    [Fact]
    public void Select_TitleNoBundleEverHad_NoArtwork_ReasonUnknownTitle()
    {
        var result = Assert.Single(_node.SelectPage(Member(9), [4242]));

        Assert.Equal(FallbackReason.UnknownTitle, result.Reason);
        Assert.Equal(SelectResult.NoArtwork, result.ImageId);
        Assert.Equal(1f, result.Propensity);
        Assert.Equal(1, _node.Node.Metrics.Fallbacks(FallbackReason.UnknownTitle));
    }

    [Fact]
    public void Select_TitleALaterFullBundleDropped_ItsDefaultImage_ReasonNoModel()
    {
        var full = TestBundles.TitleWithWinner(1001, 2, 100102);
        var bundle = Core.Bundles.ModelBundle.Write(
            new Core.Bundles.BundleManifest { Version = 2, ParentVersion = 1, Full = true, CreatedAtMs = 1 },
            [full],
            System.Text.Encoding.UTF8.GetBytes(LiveServer.BundleKey));
        Assert.True(_node.Node.Bundles.Apply(bundle, force: false).Ok);

        var results = _node.SelectPage(Member(10), [1001, 1005]);

        Assert.Equal(FallbackReason.NoProfile, results[0].Reason);
        Assert.Equal(FallbackReason.NoModel, results[1].Reason);
        Assert.Equal(100501u, results[1].ImageId); // the default image bundle 1 gave title 1005
        Assert.Equal(0ul, results[1].ModelVersion);
    }

    [Fact]
    public void SelectPage_OfTwelveTitles_ConsecutiveEventIds_LogsOneEntryOfTwelve()
    {
        var results = _node.SelectPage(Member(11), TestNode.Titles);

        Assert.Equal(TestNode.Titles, results.Select(r => r.TitleId));
        for (var i = 1; i < results.Length; i++)
        {
            Assert.Equal(results[0].EventId + (ulong)i, results[i].EventId);
        }

        var page = Assert.Single(_node.LoggedPages());
        Assert.Equal((results[0].EventId, 12), page);
    }

    [Fact]
    public void Select_EmptyPage_ReservesNoIds_LogsNothing()
    {
        Assert.Empty(_node.SelectPage(Member(12), []));

        Assert.Empty(_node.LoggedPages());
        Assert.Equal(0, _node.Node.Metrics.Selections);
    }

    [Fact]
    public void Select_ReadLongerAgoThanTheQueueDelay_ShedWithTheDefaultImages_ReasonOverload_StillLogged()
    {
        var results = _node.SelectPage(Member(13), [1001, 1002, 4242], age: TimeSpan.FromSeconds(30));

        Assert.All(results, r => Assert.Equal(FallbackReason.Overload, r.Reason));
        Assert.Equal([100101u, 100201u, SelectResult.NoArtwork], results.Select(r => r.ImageId));
        Assert.All(results, r => Assert.Equal(1f, r.Propensity));
        Assert.Equal(3, _node.Node.Metrics.Fallbacks(FallbackReason.Overload));
        Assert.Equal((results[0].EventId, 3), Assert.Single(_node.LoggedPages()));
    }

    [Fact]
    public void SelectPage_PastThePageDeadline_FirstTitleDecided_TheRestGetTheirDefaults_ReasonDeadline()
    {
        // A deadline of one microsecond: the first title of a page is always decided, every later one is past it.
        using var node = TestNode.Start(o => o.DeadlineMs = 0.001);

        var results = node.SelectPage(Member(14), TestNode.Titles);

        Assert.Equal(FallbackReason.NoProfile, results[0].Reason);
        Assert.All(results[1..], r => Assert.Equal(FallbackReason.Deadline, r.Reason));
        Assert.Equal(TestNode.Titles[1..].Select(t => (t * 100) + 1), results[1..].Select(r => r.ImageId));
        Assert.Equal((results[0].EventId, 12), Assert.Single(node.LoggedPages()));
    }

    [Fact]
    public void SelectOne_IsAPageOfOne()
    {
        var session = _node.Session();
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        session.BeginBatch(new Connections.Batch(now, now));
        var result = session.SelectOne(Member(15), new TitleCandidate(1003, 0.5f, false));
        session.EndBatch();

        Assert.Equal(1003u, result.TitleId);
        Assert.Equal(FallbackReason.NoProfile, result.Reason);
        Assert.Equal((result.EventId, 1), Assert.Single(_node.LoggedPages()));
    }
}
