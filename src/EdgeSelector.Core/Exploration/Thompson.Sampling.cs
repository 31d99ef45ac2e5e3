using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Core.Exploration;

/// <summary>The Thompson draw: one standard normal per image from the sticky key's stream.</summary>
public static partial class Thompson
{
    // Acklam's central region, as in Normal.InverseCdf: p in [Low, 1 − Low] takes the rational function in (p − ½)².
    private const double CentralLow = 0.02425;

    /// <summary>
    /// Draws the Thompson choice from the counter-based stream <paramref name="key"/>: image i's standard normal is
    /// Φ⁻¹ of the i-th uniform of the stream, so the same key always gives the same choice. With AVX-512 the hashes
    /// and the central branch of Φ⁻¹ run eight images at a time in double precision, with AVX2 four at a time, with
    /// the same operations in the same order as <see cref="SampleScalar"/>, so the draws are bit for bit the same
    /// (ThompsonPolicyTests check it); the ~5% of draws in the tails take the scalar form.
    /// </summary>
    [SkipLocalsInit]
    public static int Sample(ReadOnlySpan<float> means, ReadOnlySpan<float> stdDevs, ulong key)
    {
        var k = means.Length;
        if (k > ModelFormat.MaxImages)
        {
            return SampleScalar(means, stdDevs, key);
        }

        Span<double> normals = stackalloc double[ModelFormat.MaxImages];
        if (Vector512.IsHardwareAccelerated)
        {
            Normals512(key, k, normals);
            return Argmax512(means, stdDevs, normals[..k]);
        }

        if (Avx2.IsSupported)
        {
            Normals256(key, k, normals);
            return Argmax256(means, stdDevs, normals[..k]);
        }

        return SampleScalar(means, stdDevs, key);
    }

    // The first k standard normals of the stream (rounded up to a multiple of 8; MaxImages is one), eight at a time.
    private static void Normals512(ulong key, int k, Span<double> normals)
    {
        var keys = Vector512.Create(key);
        var index = Vector512.Create(1UL, 2, 3, 4, 5, 6, 7, 8);
        for (var i = 0; i < k; i += 8)
        {
            var p = Vector512.ConvertToDouble(Hash64.Mix(keys + (index * Vector512.Create(Hash64.Golden))) >>> 11) * Vector512.Create(1.0 / (1UL << 53));
            index += Vector512.Create(8UL);
            var q = p - Vector512.Create(0.5);
            var r = q * q;
            var num = Step(Step(Step(Step(Step(Vector512.Create(-3.969683028665376e+01) * r, 2.209460984245205e+02, r), -2.759285104469687e+02, r), 1.383577518672690e+02, r), -3.066479806614716e+01, r), 2.506628277459239e+00, q);
            var den = Step(Step(Step(Step(Vector512.Create(-5.447609879822406e+01) * r, 1.615858368580409e+02, r), -1.556989798598866e+02, r), 6.680131188771972e+01, r), -1.328068155288572e+01, r) + Vector512<double>.One;
            var z = num / den;
            var tails = (Vector512.LessThan(p, Vector512.Create(CentralLow)) | Vector512.GreaterThan(p, Vector512.Create(1 - CentralLow))).ExtractMostSignificantBits();
            z.CopyTo(normals[i..]); // i + 8 ≤ MaxImages: k ≤ MaxImages and i is a multiple of 8

            while (tails != 0)
            {
                var lane = System.Numerics.BitOperations.TrailingZeroCount(tails);
                tails &= tails - 1;
                normals[i + lane] = Normal.InverseCdf(Math.Max(p[lane], 1e-300));
            }
        }
    }

    // The same four at a time (AVX2: Hash64's 64-bit multiplies and integer-to-double conversion are built from
    // 32-bit pieces, bit for bit the scalar ones).
    private static void Normals256(ulong key, int k, Span<double> normals)
    {
        // key + (i + 1)·Golden, stepped by 4·Golden (mod 2⁶⁴, as the scalar product wraps): no 64-bit multiply.
        var stream = Vector256.Create(key) + Vector256.Create(Hash64.Golden, unchecked(2 * Hash64.Golden), unchecked(3 * Hash64.Golden), unchecked(4 * Hash64.Golden));
        for (var i = 0; i < k; i += 4)
        {
            var p = Hash64.ToUnit(Hash64.Mix(stream));
            stream += Vector256.Create(unchecked(4 * Hash64.Golden));
            var q = p - Vector256.Create(0.5);
            var r = q * q;

            // The Horner steps (x + c)·m of Step written out: with nine calls the JIT stopped inlining Step here.
            var num = Vector256.Create(-3.969683028665376e+01) * r;
            num = (num + Vector256.Create(2.209460984245205e+02)) * r;
            num = (num + Vector256.Create(-2.759285104469687e+02)) * r;
            num = (num + Vector256.Create(1.383577518672690e+02)) * r;
            num = (num + Vector256.Create(-3.066479806614716e+01)) * r;
            num = (num + Vector256.Create(2.506628277459239e+00)) * q;
            var den = Vector256.Create(-5.447609879822406e+01) * r;
            den = (den + Vector256.Create(1.615858368580409e+02)) * r;
            den = (den + Vector256.Create(-1.556989798598866e+02)) * r;
            den = (den + Vector256.Create(6.680131188771972e+01)) * r;
            den = (den + Vector256.Create(-1.328068155288572e+01)) * r;
            den += Vector256<double>.One;
            var z = num / den;
            var tails = (Vector256.LessThan(p, Vector256.Create(CentralLow)) | Vector256.GreaterThan(p, Vector256.Create(1 - CentralLow))).ExtractMostSignificantBits();
            z.StoreUnsafe(ref MemoryMarshal.GetReference(normals), (nuint)i); // i + 4 ≤ MaxImages ≤ normals.Length: i is a multiple of 4

            while (tails != 0)
            {
                var lane = System.Numerics.BitOperations.TrailingZeroCount(tails);
                tails &= tails - 1;
                normals[i + lane] = Normal.InverseCdf(Math.Max(p[lane], 1e-300));
            }
        }
    }

    // The image with the largest μ_i + σ_i·z_i, the first of equals: eight draws per step in double precision, the
    // multiply and the add rounded separately as the scalar expression rounds them, so the values are the scalar
    // ones bit for bit; the scalar loop (no branch per image to mispredict otherwise) decides when the largest is not
    // finite, where its strict comparison is what says which image wins.
    private static int Argmax512(ReadOnlySpan<float> means, ReadOnlySpan<float> stdDevs, Span<double> normals)
    {
        var k = normals.Length;
        var top = Vector512.Create(double.NegativeInfinity);
        var i = 0;
        for (; i + 8 <= k; i += 8)
        {
            var m = Avx512F.ConvertToVector512Double(Vector256.Create(means.Slice(i, 8)));
            var s = Avx512F.ConvertToVector512Double(Vector256.Create(stdDevs.Slice(i, 8)));
            var v = m + (s * Vector512.Create((ReadOnlySpan<double>)normals.Slice(i, 8)));
            v.CopyTo(normals[i..]);
            top = Vector512.Max(top, v);
        }

        var max = Vector512.Max(top, Vector512.Shuffle(top, Vector512.Create(4L, 5, 6, 7, 0, 1, 2, 3))).GetLower();
        var largest = Math.Max(Math.Max(max[0], max[1]), Math.Max(max[2], max[3]));
        for (; i < k; i++)
        {
            normals[i] = means[i] + (stdDevs[i] * normals[i]);
            largest = Math.Max(largest, normals[i]);
        }

        if (double.IsFinite(largest))
        {
            for (i = 0; i + 8 <= k; i += 8)
            {
                var at = Vector512.Equals(Vector512.Create((ReadOnlySpan<double>)normals.Slice(i, 8)), Vector512.Create(largest)).ExtractMostSignificantBits();
                if (at != 0)
                {
                    return i + System.Numerics.BitOperations.TrailingZeroCount(at);
                }
            }

            for (; i < k; i++)
            {
                if (normals[i] == largest)
                {
                    return i;
                }
            }
        }

        return FirstLargest(normals);
    }

    // Argmax512 four draws per step (AVX2), the same values bit for bit.
    private static int Argmax256(ReadOnlySpan<float> means, ReadOnlySpan<float> stdDevs, Span<double> normals)
    {
        var k = normals.Length;
        var top = Vector256.Create(double.NegativeInfinity);
        var i = 0;
        for (; i + 4 <= k; i += 4)
        {
            // Loads and stores as intrinsics (Vector128.Create(span) and CopyTo were left as calls here); i + 4 ≤ k.
            var m = Avx.ConvertToVector256Double(Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(means), (nuint)i));
            var s = Avx.ConvertToVector256Double(Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(stdDevs), (nuint)i));
            var v = m + (s * Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(normals), (nuint)i));
            v.StoreUnsafe(ref MemoryMarshal.GetReference(normals), (nuint)i);
            top = Vector256.Max(top, v);
        }

        var largest = Math.Max(Math.Max(top[0], top[1]), Math.Max(top[2], top[3]));
        for (; i < k; i++)
        {
            normals[i] = means[i] + (stdDevs[i] * normals[i]);
            largest = Math.Max(largest, normals[i]);
        }

        if (double.IsFinite(largest))
        {
            for (i = 0; i + 4 <= k; i += 4)
            {
                var at = Vector256.Equals(Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(normals), (nuint)i), Vector256.Create(largest)).ExtractMostSignificantBits();
                if (at != 0)
                {
                    return i + System.Numerics.BitOperations.TrailingZeroCount(at);
                }
            }

            for (; i < k; i++)
            {
                if (normals[i] == largest)
                {
                    return i;
                }
            }
        }

        return FirstLargest(normals);
    }

    // The strict scan of SampleScalar over the finished values: the first image above all before it.
    private static int FirstLargest(Span<double> normals)
    {
        var best = 0;
        var bestValue = double.NegativeInfinity;
        for (var i = 0; i < normals.Length; i++)
        {
            if (normals[i] > bestValue)
            {
                best = i;
                bestValue = normals[i];
            }
        }

        return best;
    }

    // (x + c)·m: one Horner step with separate rounding of the add and the multiply, as the scalar expression rounds
    // (the JIT never fuses them), so the vector lanes are bit for bit the scalar values. Adding −c equals subtracting c.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Step(Vector512<double> x, double c, Vector512<double> m) => (x + Vector512.Create(c)) * m;


    /// <summary>The scalar reference of <see cref="Sample"/>: one hash and one Φ⁻¹ per image.</summary>
    public static int SampleScalar(ReadOnlySpan<float> means, ReadOnlySpan<float> stdDevs, ulong key)
    {
        var best = 0;
        var bestValue = double.NegativeInfinity;
        for (var i = 0; i < means.Length; i++)
        {
            var u = Hash64.ToUnit(Hash64.Stream(key, (ulong)i));
            var z = Normal.InverseCdf(Math.Max(u, 1e-300));
            var v = means[i] + (stdDevs[i] * z);
            if (v > bestValue)
            {
                best = i;
                bestValue = v;
            }
        }

        return best;
    }
}
