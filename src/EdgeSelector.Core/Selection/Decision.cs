using EdgeSelector.Core.Exploration;

namespace EdgeSelector.Core.Selection;

/// <summary>The outcome of one selection: which image, and the exact probability with which it was chosen.</summary>
public readonly record struct Decision
{
    /// <summary>Index of the chosen image among the model's candidates.</summary>
    public int Index { get; init; }

    /// <summary>Id of the chosen image.</summary>
    public uint ImageId { get; init; }

    /// <summary>Probability with which this image was chosen for this context (what the impression log records).</summary>
    public float Propensity { get; init; }

    /// <summary>The policy that chose.</summary>
    public PolicyKind Policy { get; init; }

    /// <summary>The policy's parameter (ε, T or α).</summary>
    public float PolicyParameter { get; init; }

    /// <summary>Version of the model that was scored.</summary>
    public ulong ModelVersion { get; init; }

    /// <summary>The mean score of the chosen image (expected reward under the model).</summary>
    public float Score { get; init; }
}
