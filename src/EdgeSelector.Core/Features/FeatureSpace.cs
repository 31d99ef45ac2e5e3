namespace EdgeSelector.Core.Features;

/// <summary>
/// Describes the feature vector a model was trained on: its dimension, the seed of the feature hashing and the
/// schema version (which slots mean what). It travels inside every model blob; a model is only ever scored with a
/// vector encoded for its own feature space.
/// </summary>
/// <param name="Dimension">Length d of the feature vector.</param>
/// <param name="HashSeed">Seed of the signed feature hashing of categorical features and crosses.</param>
/// <param name="SchemaVersion">Which encoding (slot meaning) the vector follows; see docs/model-format.md.</param>
public readonly record struct FeatureSpace(ushort Dimension, uint HashSeed, ushort SchemaVersion)
{
    /// <summary>The only schema this build encodes.</summary>
    public const ushort CurrentSchema = 1;

    /// <summary>The smallest dimension schema 1 supports: its dense slots plus a few hashed ones.</summary>
    public const int MinDimension = FeatureEncoder.DenseSlots + 8;

    /// <summary>The default space: 64 features, schema 1, a fixed seed.</summary>
    public static FeatureSpace Default => new(64, 0x5EEDF00D, CurrentSchema);

    /// <summary>True when this build can encode vectors for the space.</summary>
    public bool IsSupported => SchemaVersion == CurrentSchema && Dimension >= MinDimension && Dimension <= Models.ModelFormat.MaxDimension;
}
