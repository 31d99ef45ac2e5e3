namespace EdgeSelector.Core.Logging;

/// <summary>Which exploration policy made a logged decision; the impression record carries the byte value.</summary>
public enum LoggedPolicyKind : byte
{
    /// <summary>Always the top-scoring image (propensity 1).</summary>
    Greedy = 0,
    /// <summary>Top image with probability 1 - epsilon, else uniform; parameter = epsilon.</summary>
    EpsilonGreedy = 1,
    /// <summary>Boltzmann over scores; parameter = temperature.</summary>
    Softmax = 2,
    /// <summary>Thompson sampling (propensity estimated by the engine); parameter unused.</summary>
    Thompson = 3,
    /// <summary>Upper confidence bound; parameter = alpha.</summary>
    Ucb = 4,
    /// <summary>Uniform over the candidates; parameter unused.</summary>
    Uniform = 5,
}

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
