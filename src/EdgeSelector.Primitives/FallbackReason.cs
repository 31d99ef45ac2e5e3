namespace EdgeSelector.Primitives;

/// <summary>
/// Why a title was answered as it was: <see cref="None"/> and <see cref="NoProfile"/> are the model's choice; every
/// other value is a fallback to the title's default image (docs/protocol.md, SELECT_RESULT).
/// </summary>
public enum FallbackReason : byte
{
    /// <summary>The model made the decision.</summary>
    None = 0,
    /// <summary>The title is in no bundle this node applied: no model and no default image.</summary>
    UnknownTitle = 1,
    /// <summary>The title's default is known from an earlier bundle, but the active bundle dropped its model.</summary>
    NoModel = 2,
    /// <summary>The model failed validation.</summary>
    CorruptModel = 3,
    /// <summary>Not a fallback: the model chose from the request's context alone (no stored profile, no genres in the request).</summary>
    NoProfile = 4,
    /// <summary>The request's deadline was too close to score.</summary>
    Deadline = 5,
    /// <summary>The node shed load.</summary>
    Overload = 6,
    /// <summary>An unexpected error; the request was still answered.</summary>
    InternalError = 7,
}
