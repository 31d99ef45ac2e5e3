using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace EdgeSelector.Core.Security;

/// <summary>
/// SipHash (Aumasson and Bernstein, 2012) of one 64-bit word under a 128-bit key: a keyed PRF built for short inputs,
/// constant time, scalar, no tables. SipHash-2-4 is the standard parameter set (the one <c>SipHashTests</c> checks
/// against the reference vectors); SipHash-1-3 is the faster variant some hash tables use.
/// </summary>
public static class SipHash
{
    /// <summary>SipHash-2-4 of the 8 little-endian bytes of <paramref name="message"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Hash24(ulong k0, ulong k1, ulong message) => Hash(k0, k1, message, compression: 2, finalization: 4);

    /// <summary>SipHash-1-3 of the 8 little-endian bytes of <paramref name="message"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Hash13(ulong k0, ulong k1, ulong message) => Hash(k0, k1, message, compression: 1, finalization: 3);

    /// <summary>The two key words of a 16-byte key (little-endian, as the reference implementation reads them).</summary>
    public static (ulong K0, ulong K1) Key(ReadOnlySpan<byte> key16)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(key16.Length, 16, nameof(key16));
        return (BinaryPrimitives.ReadUInt64LittleEndian(key16), BinaryPrimitives.ReadUInt64LittleEndian(key16[8..]));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Hash(ulong k0, ulong k1, ulong m, int compression, int finalization)
    {
        ulong v0 = k0 ^ 0x736f6d6570736575UL;
        ulong v1 = k1 ^ 0x646f72616e646f6dUL;
        ulong v2 = k0 ^ 0x6c7967656e657261UL;
        ulong v3 = k1 ^ 0x7465646279746573UL;

        // The one 8-byte block, then the final block: the length (8) in the top byte, no message bytes left.
        v3 ^= m;
        for (var i = 0; i < compression; i++)
        {
            Round(ref v0, ref v1, ref v2, ref v3);
        }

        v0 ^= m;
        const ulong last = 8UL << 56;
        v3 ^= last;
        for (var i = 0; i < compression; i++)
        {
            Round(ref v0, ref v1, ref v2, ref v3);
        }

        v0 ^= last;
        v2 ^= 0xff;
        for (var i = 0; i < finalization; i++)
        {
            Round(ref v0, ref v1, ref v2, ref v3);
        }

        return v0 ^ v1 ^ v2 ^ v3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v0 += v1;
        v1 = BitOperations.RotateLeft(v1, 13);
        v1 ^= v0;
        v0 = BitOperations.RotateLeft(v0, 32);
        v2 += v3;
        v3 = BitOperations.RotateLeft(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = BitOperations.RotateLeft(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = BitOperations.RotateLeft(v1, 17);
        v1 ^= v2;
        v2 = BitOperations.RotateLeft(v2, 32);
    }
}
