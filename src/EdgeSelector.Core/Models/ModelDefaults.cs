namespace EdgeSelector.Core.Models;

/// <summary>Defaults that bundles and the server share.</summary>
public static class ModelDefaults
{
    /// <summary>
    /// The precision bundles are written in for serving. Chosen by measurement (docs/model-format.md, "Precision",
    /// and docs/performance.md): with thousands of titles the bytes read per selection set the speed.
    /// </summary>
    public const WeightPrecision ServingPrecision = WeightPrecision.Int8;
}
