namespace EdgeSelector.Primitives;

/// <summary>Packs two-letter ISO codes (country, language) into a <see cref="ushort"/>: ('U' &lt;&lt; 8) | 'S'.</summary>
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

    /// <summary>
    /// Packs two ASCII letters given as bytes (any case); false for anything else, so a reader can refuse it rather
    /// than take it as "unknown".
    /// </summary>
    public static bool TryPack(ReadOnlySpan<byte> code, out ushort packed)
    {
        if (code.Length != 2 || !char.IsAsciiLetter((char)code[0]) || !char.IsAsciiLetter((char)code[1]))
        {
            packed = 0;
            return false;
        }

        packed = (ushort)((char.ToUpperInvariant((char)code[0]) << 8) | char.ToUpperInvariant((char)code[1]));
        return true;
    }

    /// <summary>
    /// True for a value a packed field may hold: 0 (unknown) or two upper-case ASCII letters packed by
    /// <see cref="Pack"/>.
    /// </summary>
    public static bool IsValidPacked(ushort packed) =>
        packed == 0 || (char.IsAsciiLetterUpper((char)(packed >> 8)) && char.IsAsciiLetterUpper((char)(packed & 0xFF)));

    /// <summary>The two-letter form of a packed code, or "" for 0.</summary>
    public static string Unpack(ushort packed) =>
        packed == 0 ? string.Empty : new string([(char)(packed >> 8), (char)(packed & 0xFF)]);
}
