namespace EdgeSelector.Core.Selection;

/// <summary>
/// The page policy's state while a page's titles are decided in order (docs/learning.md, "Page-level diversity"):
/// the penalty per shared tag and the tags of the images already chosen for the page. The caller keeps one per page,
/// starting empty, and passes it to every title's <see cref="SelectionEngine.Select(in Models.ModelView, in Features.MemberContext, in Features.TitleContext, long, Span{float}, ref PageState)"/>,
/// which adds the chosen image's tags. A penalty of 0 is no page policy: nothing is read or written.
/// </summary>
public struct PageState
{
    /// <summary>Creates the state of an empty page under a penalty (score units per tag shared with the page).</summary>
    public PageState(float penalty)
    {
        Penalty = float.IsFinite(penalty) && penalty > 0 ? penalty : 0f;
        Tags = 0;
    }

    /// <summary>Score penalty per tag an image shares with the images already on the page (0 = off).</summary>
    public float Penalty { get; }

    /// <summary>The tag mask of the images chosen so far (<see cref="Exploration.PageDiversity.TagBit(ReadOnlySpan{byte})"/> bits).</summary>
    public ulong Tags { get; set; }

    /// <summary>True when the page policy is on.</summary>
    public readonly bool IsActive => Penalty > 0;
}
