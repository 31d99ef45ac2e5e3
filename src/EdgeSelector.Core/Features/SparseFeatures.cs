using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeSelector.Core.Features;

/// <summary>
/// A feature vector in the form the encoder builds it: the schema's <see cref="DenseCount"/> dense slots as floats,
/// and each hashed feature as its slot and sign (±1). The dense d-vector is these added up
/// (<see cref="CopyTo"/>); the int8 scorer uses this form directly, so it never writes, clears or scans the mostly
/// zero hashed part of x (docs/model-format.md, "Precision"). A blittable value on the caller's stack; the field
/// order is relied on (the encoder writes <see cref="Slots"/> and <see cref="Signs"/> with one 64-byte store).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct SparseFeatures
{
    /// <summary>Number of hashed features and crosses schema 1 encodes.</summary>
    public const int HashedCount = 8;

    /// <summary>Dense slots 0 … <see cref="DenseCount"/> − 1 (room for the largest schema; the rest is not written).</summary>
    public DenseSlotVector Dense;

    /// <summary>Slot (in the whole vector, at least <see cref="DenseCount"/>) of each hashed feature.</summary>
    public HashedSlotVector Slots;

    /// <summary>Sign (+1 or −1) of each hashed feature.</summary>
    public HashedSlotVector Signs;

    /// <summary>Dimension d of the vector this stands for.</summary>
    public int Dimension;

    /// <summary>Dense slots of the schema (20 for schema 1, 36 for schema 2); the hashed part starts here.</summary>
    public int DenseCount;

    /// <summary>Writes the dense d-vector: the dense slots, zeros, and ±1 added at each hashed slot (collisions add up).</summary>
    public readonly void CopyTo(Span<float> x)
    {
        x = x[..Dimension];
        x.Clear();
        ((ReadOnlySpan<float>)Dense)[..DenseCount].CopyTo(x);
        for (var f = 0; f < HashedCount; f++)
        {
            x[Slots[f]] += Signs[f];
        }
    }
}

/// <summary>The dense slots of a <see cref="SparseFeatures"/>, stored inline (room for the largest schema).</summary>
[InlineArray(FeatureEncoder.MaxDenseSlots)]
public struct DenseSlotVector
{
    private float _element0;
}

/// <summary>One int per hashed feature of a <see cref="SparseFeatures"/>, stored inline.</summary>
[InlineArray(SparseFeatures.HashedCount)]
public struct HashedSlotVector
{
    private int _element0;
}
