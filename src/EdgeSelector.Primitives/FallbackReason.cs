namespace EdgeSelector.Primitives;

/// <summary>Why a decision fell back to the default image instead of the model's choice (0 = it did not).</summary>
public enum FallbackReason : byte
{
    /// <summary>The model made the decision.</summary>
    None = 0,
    /// <summary>The title is not in the model.</summary>
    UnknownTitle = 1,
    /// <summary>No model is loaded.</summary>
    NoModel = 2,
    /// <summary>The model failed validation.</summary>
    CorruptModel = 3,
    /// <summary>No profile for the member.</summary>
    NoProfile = 4,
    /// <summary>The request's deadline was too close to score.</summary>
    Deadline = 5,
    /// <summary>The node shed load.</summary>
    Overload = 6,
    /// <summary>An unexpected error; the request was still answered.</summary>
    InternalError = 7,
}
