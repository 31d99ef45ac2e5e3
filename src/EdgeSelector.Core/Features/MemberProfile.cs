using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeSelector.Core.Features;

/// <summary>
/// What the node knows about a member between requests: a blittable 72-byte record (checked by a test), so the profile store can keep
/// it as a fixed-size FASTER value with no serializer.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MemberProfile
{
    /// <summary>Number of genre-affinity slots every profile carries (feature schema 1).</summary>
    public const int GenreCount = FeatureSchema.GenreCount;

    /// <summary>Home country, two ASCII letters packed by <see cref="CountryCode.Pack"/> (0 = unknown).</summary>
    public ushort Country;

    /// <summary>Preferred language, two ASCII letters packed by <see cref="CountryCode.Pack"/> (0 = unknown).</summary>
    public ushort Language;

    /// <summary>The member's usual device, used when the request does not say.</summary>
    public DeviceClass Device;

    /// <summary>Reserved, zero.</summary>
    public byte Reserved0;

    /// <summary>Reserved, zero.</summary>
    public ushort Reserved1;

    /// <summary>Per-genre affinity in [0, 1]: the share of the member's recent viewing in that genre.</summary>
    public GenreVector Genres;
}

/// <summary>The <see cref="MemberProfile.GenreCount"/> genre affinities, stored inline (no array, no pointer).</summary>
[InlineArray(MemberProfile.GenreCount)]
public struct GenreVector
{
    private float _element0;
}
