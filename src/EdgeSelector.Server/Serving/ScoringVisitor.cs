using EdgeSelector.Storage.Models;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// Scores a title's model where FASTER keeps it: the store calls <see cref="Visit"/> inside its read callback with
/// the record's own bytes, and the connection's <see cref="PageScorer"/> reads the weights from there (no copy).
/// Declared as the model store's one reader on the request path (<see cref="ModelReader"/>, in the host's
/// composition). It holds only the scorer's reference: FASTER passes the visitor as a read's output and keeps a copy of
/// it in every read's context (and, for a read that goes to disk, copies it back), so the page's state stays in the
/// scorer, once per connection, and a read copies one pointer.
/// </summary>
internal readonly struct ScoringVisitor : IModelVisitor
{
    private readonly PageScorer _scorer;

    /// <summary>A visitor that scores into <paramref name="scorer"/>.</summary>
    public ScoringVisitor(PageScorer scorer) => _scorer = scorer;

    public void Visit(uint titleId, ReadOnlySpan<byte> model)
    {
        // Test-only (FaultInjection): the read itself fails, outside the scorer's own catch, so the exception leaves
        // FASTER's read callback and the store's read the way a failure inside FASTER would (SelectionService.Decide
        // answers the default image, reason InternalError). Removed from the native binary with the switch.
        if (FaultInjection.IsEnabled && titleId == _scorer.ReadFaultTitle)
        {
            FaultInjection.ThrowReadFault(titleId);
        }

        _scorer.Visit(titleId, model);
    }
}

/// <summary>What happened inside <see cref="PageScorer.Visit"/>.</summary>
internal enum VisitOutcome : byte
{
    /// <summary>The zero value: a visitor that was never called, or that threw, is a failure, never a decision.</summary>
    Failed = 0,

    /// <summary>The engine chose an image.</summary>
    Decided,

    /// <summary>The stored blob failed its structure check (or belongs to another title).</summary>
    Corrupt,
}
