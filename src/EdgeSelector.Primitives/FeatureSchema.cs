namespace EdgeSelector.Primitives;

/// <summary>Facts of feature schema 1 that the wire, the profile store, the models and the logs share.</summary>
public static class FeatureSchema
{
    /// <summary>Genre affinities a member carries, in the schema's genre order (docs/model-format.md).</summary>
    public const int GenreCount = 16;
}
