using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// A page's scoring state, one per connection (<see cref="ServingSession.Scorer"/>), reset for each page: the member and
/// its encoded part of the feature vector (encoded by the page's first scored title and reused for the others,
/// <see cref="MemberFeatures"/>, #12.3), the page policy's state, and the current title's outcome. The store's read
/// callback reaches it through a <see cref="ScoringVisitor"/> holding only a reference to it, so a read copies (and
/// FASTER zeroes, in its per-read context) one pointer instead of this whole state, and a page does not build a new
/// copy of it per request. Never throws from <see cref="Visit"/>: a blob that fails the structure check or an exception
/// mark the outcome for the caller to fall back. Not thread-safe: one connection's batches at a time.
/// </summary>
internal sealed class PageScorer
{
    private readonly SelectionEngine _engine;
    private readonly float _penalty;
    private MemberFeatures _member;
    private TitleContext _title;
    private long _unixMs;
    private PageState _page;
    private uint _faultTitle;
    private uint _readFaultTitle;

    /// <summary>A scorer for pages decided by <paramref name="engine"/> under a page penalty (0 = no page policy).</summary>
    public PageScorer(SelectionEngine engine, float pageDiversityPenalty)
    {
        _engine = engine;
        _penalty = pageDiversityPenalty;
    }

    /// <summary>The decision of the last title visited (valid when <see cref="Outcome"/> is <see cref="VisitOutcome.Decided"/>).</summary>
    public Decision Decision;

    /// <summary>The images of the last title's model (0 if it was not opened).</summary>
    public int CandidateCount;

    /// <summary>What happened to the last title.</summary>
    public VisitOutcome Outcome;

    /// <summary>Test-only: the page's title whose model read throws (<see cref="ScoringVisitor"/>; 0 = off).</summary>
    public uint ReadFaultTitle => _readFaultTitle;

    /// <summary>
    /// Starts a page for <paramref name="member"/> at <paramref name="unixMs"/>: its part of the vector is not encoded
    /// yet and the page state is empty. <paramref name="faultTitle"/> and <paramref name="readFaultTitle"/> are test-only
    /// (a title whose scoring throws, a title whose model read throws; 0 = off).
    /// </summary>
    public void BeginPage(in MemberContext member, long unixMs, uint faultTitle, uint readFaultTitle)
    {
        _member.Reset(member); // not `_member = new MemberFeatures(member)`: that clears and copies ~300 bytes per page
        _unixMs = unixMs;
        _faultTitle = faultTitle;
        _readFaultTitle = readFaultTitle;
        _page = new PageState(_penalty);
    }

    /// <summary>Readies the scorer for the page's next title (the member's encoding and the page state stay).</summary>
    public void Next(in TitleContext title)
    {
        _title = title;
        Outcome = VisitOutcome.Failed;
        CandidateCount = 0;
    }

    /// <summary>Scores the current title's model in place (called inside the store's read callback).</summary>
    public void Visit(uint titleId, ReadOnlySpan<byte> model)
    {
        try
        {
            if (!ModelView.TryOpen(model, ModelCheck.Structure, out var view, out _) || view.TitleId != titleId)
            {
                Outcome = VisitOutcome.Corrupt;
                return;
            }

            CandidateCount = view.ImageCount;
            if (FaultInjection.IsEnabled && titleId == _faultTitle)
            {
                throw new InvalidOperationException($"fault injected for title {titleId}");
            }

            Decision = _engine.Select(view, ref _member, _title, _unixMs, default, ref _page);
            Outcome = VisitOutcome.Decided;
        }
        catch (Exception)
        {
            Outcome = VisitOutcome.Failed;
        }
    }
}
