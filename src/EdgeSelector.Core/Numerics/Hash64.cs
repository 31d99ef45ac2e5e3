using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>
    /// The same finalizer on four words at once. AVX2 has no 64-bit multiply, so each product is put together from
    /// three 32×32→64-bit ones (<c>vpmuludq</c>): x·m mod 2⁶⁴ = x_lo·m_lo + ((x_hi·m_lo + x_lo·m_hi) ≪ 32), the
    /// scalar product bit for bit (Hash64Tests checks it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ulong> Mix(Vector256<ulong> x)
    {
        x ^= x >>> 33;
        x = Multiply(x, Mix1);
        x ^= x >>> 33;
        x = Multiply(x, Mix2);
        x ^= x >>> 33;
        return x;
    }

    /// <summary>The i-th value of a counter-based stream started from <paramref name="key"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Stream(ulong key, ulong i) => Mix(key + ((i + 1) * Golden));

    /// <summary>A uniform double in [0, 1) from the top 53 bits of a hash.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToUnit(ulong h) => (h >> 11) * (1.0 / (1UL << 53));

    /// <summary>
    /// <see cref="ToUnit(ulong)"/> on four hashes, bit for bit: AVX2 cannot convert 64-bit integers, so the 53 bits
    /// are split into their low 32 and high 21, each made exact in a double's mantissa (2⁵² + lo − 2⁵² and
    /// 2⁸⁴ + hi·2³² − 2⁸⁴), and added; the sum is below 2⁵³, so it is exact, as is the scaling by 2⁻⁵³.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> ToUnit(Vector256<ulong> h)
    {
        h >>>= 11;
        var low = (Vector256.Create(0x4330000000000000UL) | (h & Vector256.Create(0xFFFFFFFFUL))).AsDouble() - Vector256.Create(4503599627370496.0);
        var high = (Vector256.Create(0x4530000000000000UL) | (h >>> 32)).AsDouble() - Vector256.Create(19342813113834066795298816.0);
        return (high + low) * Vector256.Create(1.0 / (1UL << 53));
    }

    // x·m mod 2⁶⁴ per lane. Without AVX2 the portable operator is the reference it must equal.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Multiply(Vector256<ulong> x, ulong m)
    {
        if (!Avx2.IsSupported)
        {
            return x * Vector256.Create(m);
        }

        var low = Vector256.Create(m & 0xFFFFFFFF);
        var cross = Avx2.Multiply((x >>> 32).AsUInt32(), low.AsUInt32()) + Avx2.Multiply(x.AsUInt32(), Vector256.Create(m >> 32).AsUInt32());
        return Avx2.Multiply(x.AsUInt32(), low.AsUInt32()) + (cross << 32);
    }
}
