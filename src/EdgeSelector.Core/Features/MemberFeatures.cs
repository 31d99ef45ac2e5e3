namespace EdgeSelector.Core.Features;

/// <summary>
/// A member's context and its part of the feature vector, encoded once per page (#12.3): the first title of a page
/// encodes it for its model's feature space, the page's other titles whose models share that space reuse it and add
/// only their own slots (<see cref="FeatureEncoder.TryEncode(in FeatureSpace, ref MemberFeatures, in TitleContext, out SparseFeatures)"/>).
/// A title whose model uses another space re-encodes it. A value on the caller's stack; make a new one per member.
/// </summary>
public struct MemberFeatures
{
    /// <summary>The member and the moment.</summary>
    public MemberContext Context;

    /// <summary>
    /// The member's part of the vector in <see cref="Space"/>, valid once encoded; its title slots are zero, or the
    /// last title's (<see cref="FeatureEncoder.TryEncodeInPlace"/>), and are rewritten for every title.
    /// </summary>
    internal SparseFeatures Features;

    private FeatureSpace _space;
    private bool _encoded;

    /// <summary>A member whose part of the vector is not encoded yet.</summary>
    public MemberFeatures(in MemberContext context)
    {
        Context = context;
    }

    /// <summary>
    /// Makes this a member whose part of the vector is not encoded yet, as <c>new MemberFeatures(context)</c> does,
    /// without clearing and copying the whole value (a page scorer starts each page on one kept in its fields): the
    /// old vector stays in <see cref="Features"/> but is never read, since the next encoding writes every slot it reads
    /// (MemberFeaturesTests: a reset member encodes bit for bit as a new one).
    /// </summary>
    public void Reset(in MemberContext context)
    {
        Context = context;
        _space = default;
        _encoded = false;
    }

    /// <summary>The space the member's part was last encoded for (default until the first title).</summary>
    public readonly FeatureSpace Space => _space;

    /// <summary>True when the member's part is encoded for <paramref name="space"/>.</summary>
    public readonly bool IsEncodedFor(in FeatureSpace space) => _encoded && _space == space;

    internal void MarkEncoded(in FeatureSpace space)
    {
        _space = space;
        _encoded = true;
    }
}
