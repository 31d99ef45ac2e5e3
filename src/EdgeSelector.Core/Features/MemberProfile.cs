using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeSelector.Core.Features;

/// <summary>Device classes a request can come from; the wire and the profile store carry the byte value.</summary>
public enum DeviceClass : byte
{
    /// <summary>Not known.</summary>
    Unknown = 0,
    /// <summary>Smart TV or set-top box.</summary>
    Tv = 1,
    /// <summary>Phone.</summary>
    Phone = 2,
    /// <summary>Tablet.</summary>
    Tablet = 3,
    /// <summary>Desktop or laptop browser.</summary>
    Web = 4,
    /// <summary>Game console.</summary>
    Console = 5,
}

/// <summary>
/// What the node knows about a member between requests: a blittable 72-byte record (checked by a test), so the profile store can keep
/// it as a fixed-size FASTER value with no serializer.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct MemberProfile
{
    /// <summary>Number of genre-affinity slots every profile carries (feature schema 1).</summary>
    public const int GenreCount = 16;

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

/// <summary>Packs two-letter ISO codes (country, language) into a <see cref="ushort"/>.</summary>
public static class CountryCode
{
    /// <summary>Packs "US" as ('U' &lt;&lt; 8) | 'S'; anything that is not two ASCII letters packs to 0 (unknown).</summary>
    public static ushort Pack(ReadOnlySpan<char> code)
    {
        if (code.Length != 2 || !char.IsAsciiLetter(code[0]) || !char.IsAsciiLetter(code[1]))
        {
            return 0;
        }

        return (ushort)((char.ToUpperInvariant(code[0]) << 8) | char.ToUpperInvariant(code[1]));
    }

    /// <summary>The two-letter form of a packed code, or "" for 0.</summary>
    public static string Unpack(ushort packed) =>
        packed == 0 ? string.Empty : new string([(char)(packed >> 8), (char)(packed & 0xFF)]);
}
