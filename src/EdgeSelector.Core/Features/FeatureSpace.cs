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
    /// <summary>Schema 1: 20 dense slots (genres, recommender score, interacted, hour), then hashed features.</summary>
    public const ushort Schema1 = 1;

    /// <summary>
    /// Schema 2: schema 1's dense slots, then 16 more: each genre affinity times the interacted-before flag, so an
    /// image's weights can say how much its theme matters to members who already know the title (docs/model-format.md).
    /// </summary>
    public const ushort Schema2 = 2;

    /// <summary>The schema new models are built in; this build encodes (and scores) schemas 1 and 2.</summary>
    public const ushort CurrentSchema = Schema2;

    /// <summary>The smallest dimension any schema supports (schema 1's dense slots plus a few hashed ones).</summary>
    public const int MinDimension = FeatureEncoder.DenseSlots + 8;

    /// <summary>The default space: 64 features, the current schema, a fixed seed.</summary>
    public static FeatureSpace Default => new(64, 0x5EEDF00D, CurrentSchema);

    /// <summary>Number of dense slots of this space's schema (the hashed features start there).</summary>
    public int DenseSlots => FeatureEncoder.DenseSlotCount(SchemaVersion);

    /// <summary>True when this build can encode vectors for the space (schema 1 or 2, d from its dense slots + 8 to the format's maximum).</summary>
    public bool IsSupported => SchemaVersion is Schema1 or Schema2 && Dimension >= MinDimensionOf(SchemaVersion) && Dimension <= Models.ModelFormat.MaxDimension;

    /// <summary>The smallest dimension of a schema: its dense slots plus eight hashed ones.</summary>
    public static int MinDimensionOf(ushort schema) => FeatureEncoder.DenseSlotCount(schema) + 8;
}
