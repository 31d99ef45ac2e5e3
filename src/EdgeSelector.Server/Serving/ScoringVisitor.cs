using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;
using EdgeSelector.Storage.Models;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// Scores a title's model where FASTER keeps it: the store calls <see cref="Visit"/> inside its read callback with
/// the record's own bytes, and the engine reads the weights from there (no copy). Never throws: a blob that fails
/// the structure check or an exception mark the outcome for the caller to fall back. Declared as the model store's
/// one reader on the request path (<see cref="ModelReader"/>, in the host's composition). One visitor serves a whole
/// page: the member's part of the feature vector is encoded for the page's first title and reused for the others
/// (<see cref="MemberFeatures"/>, #12.3); per title only <see cref="Title"/> changes and the outcome is reset.
/// </summary>
internal struct ScoringVisitor : IModelVisitor
{
    public SelectionEngine Engine;

    /// <summary>The member and its encoded part of the vector (encoded by the page's first scored title).</summary>
    public MemberFeatures Member;
    public TitleContext Title;
    public long UnixMs;

    /// <summary>The page so far under the page policy (inactive when its penalty is 0); the chosen image's tags are added.</summary>
    public PageState Page;

    /// <summary>Test-only: scoring this title throws (read only when <see cref="FaultInjection.IsEnabled"/>).</summary>
    public uint FaultTitle;

    public Decision Decision;
    public int CandidateCount;
    public VisitOutcome Outcome;

    /// <summary>Readies the visitor for the page's next title (the member's encoding and the page state stay).</summary>
    public void Next(in TitleContext title)
    {
        Title = title;
        Outcome = VisitOutcome.Failed;
        CandidateCount = 0;
    }

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
            if (FaultInjection.IsEnabled && titleId == FaultTitle)
            {
                throw new InvalidOperationException($"fault injected for title {titleId}");
            }

            Decision = Engine.Select(view, ref Member, Title, UnixMs, default, ref Page);
            Outcome = VisitOutcome.Decided;
        }
        catch (Exception)
        {
            Outcome = VisitOutcome.Failed;
        }
    }
}

/// <summary>What happened inside <see cref="ScoringVisitor.Visit"/>.</summary>
internal enum VisitOutcome : byte
{
    /// <summary>The zero value: a visitor that was never called, or that threw, is a failure, never a decision.</summary>
    Failed = 0,

    /// <summary>The engine chose an image.</summary>
    Decided,

    /// <summary>The stored blob failed its structure check (or belongs to another title).</summary>
    Corrupt,
}
