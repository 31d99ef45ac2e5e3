using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeSelector.Core.Numerics;

/// <summary>
/// Small, fast 64-bit mixing functions (MurmurHash3's finalizer and SplitMix64 constants). They are not a MAC: the
/// seeds keep choices and hashed features reproducible, not secret.
/// </summary>
public static class Hash64
{
    /// <summary>2⁶⁴/φ, odd: the golden-ratio increment of SplitMix64 and a good multiplier to spread small ids.</summary>
    public const ulong Golden = 0x9E3779B97F4A7C15;

    // MurmurHash3 fmix64's multipliers, shared by the scalar and the vector finalizer.
    private const ulong Mix1 = 0xFF51AFD7ED558CCD;
    private const ulong Mix2 = 0xC4CEB9FE1A85EC53;

    /// <summary>MurmurHash3's 64-bit finalizer: every input bit affects every output bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong x)
    {
        x ^= x >> 33;
        x *= Mix1;
        x ^= x >> 33;
        x *= Mix2;
        x ^= x >> 33;
        return x;
    }

    /// <summary>The same finalizer on eight words at once (AVX-512 multiplies 64-bit lanes in one instruction).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Mix(Vector512<ulong> x)
    {
        x ^= x >>> 33;
        x *= Vector512.Create(Mix1);
        x ^= x >>> 33;
        x *= Vector512.Create(Mix2);
        x ^= x >>> 33;
        return x;
    }

    /// <summary>The i-th value of a counter-based stream started from <paramref name="key"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Stream(ulong key, ulong i) => Mix(key + ((i + 1) * Golden));

    /// <summary>A uniform double in [0, 1) from the top 53 bits of a hash.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToUnit(ulong h) => (h >> 11) * (1.0 / (1UL << 53));
}
