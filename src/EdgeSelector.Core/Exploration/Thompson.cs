using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Core.Exploration;

/// <summary>
/// Thompson sampling with a Gaussian posterior per image: draw s_i ~ N(μ_i, σ_i²) for every image and take the
/// best. The probability of the chosen image c has no closed form; <see cref="Probability"/> computes
///   P(c) = ∫ φ(u) G(u) du,  G(u) = Π_{j≠c} Φ(a_j + b_j·u),  a_j = (μ_c − μ_j)/σ_j,  b_j = σ_c/σ_j
/// to within <see cref="ErrorBound"/> absolute: images that cannot matter are dropped by a closed-form bound, the
/// range is cut where the integrand vanishes, and adaptive Gauss–Kronrod (7/15 points) panels integrate the rest
/// (docs/model-format.md, "Thompson propensity", gives the bound term by term). PolicyTests compare it with
/// 2,000,000-draw Monte Carlo (small probabilities included), with a dense reference quadrature on thousands of
/// random posteriors, and the vector path with <see cref="ProbabilityScalar"/>.
/// </summary>
public static partial class Thompson
{
    /// <summary>Scratch floats <see cref="Probability"/> and <see cref="ProbabilityScalar"/> need.</summary>
    public const int ScratchLength = (2 * ModelFormat.MaxImages) + (4 * MaxPanels);

    /// <summary>Standard deviations are floored here so every factor of the integrand is a proper CDF.</summary>
    public const float MinStdDev = 1e-4f;

    /// <summary>
    /// Bound on |computed − exact| of <see cref="Probability"/>: dropped images ≤ 1e-6, range cut ≤ 2e-7, quadrature
    /// estimate ≤ 1e-4, Φ's approximation ≤ 1e-5 (docs/model-format.md, "Thompson propensity").
    /// </summary>
    public const double ErrorBound = 2e-4;

    // 1 − Φ(5.2) = Φ(−5.2) ≈ 1.0e-7: the integrand's mass above u = 5.2 (it is at most φ), and below the point where
    // one factor of G falls under Φ(−5.2) (there the integrand is at most Φ(−5.2)·φ). Small enough that a whole pmf
    // still sums to 1 within 1e-5 (the simulator checks that).
    private const float Tail = 5.2f;

    // A factor at or above Φ(5.6) (1 − 1.1e-8) over the whole range is 1 to float precision: dropped.
    private const float FactorIsOne = 5.6f;

    // Above the point where every factor is at Φ(4.75) (1 − 1.02e-6) or more, the integral is taken in closed form.
    private const float TailIsOne = 4.75f;

    // The mass left out below the lower end (the bound Φ(c)·Π Φ(a_j + b_j·c), computed with single-precision Φ, is
    // held under 0.99 of Φ(−5.2) ≈ 1.0e-7, the share this end had before).
    private const double BelowBudget = 0.99e-7;

    // A range at most this wide starts as two panels rather than three.
    private const float NarrowRange = 7.5f;

    private const double InvSqrt2 = 0.70710678118654752440;

    // The sum over dropped images of P(X_j > X_c) stays under this (a per-K threshold, see DropZ). Far below the
    // bound: a whole pmf must still sum to 1 within 1e-5 (the simulator in EdgeSelector.Learning checks that).
    private const double DropBudget = 1e-6;

    // Stop refining when the panels' summed |K15 − G7| is under this. |K15 − G7| estimates the 7-point rule's error;
    // the 15-point result that is returned is far more accurate than that on any panel where the estimate is small.
    private const double QuadratureTolerance = 1e-4;

    /// <summary>Most panels the adaptive rule uses; the steepest posteriors in the tests need 9.</summary>
    public const int MaxPanels = 32;

    // The lower end's trial points, higher first, and Φ of each: a table, not a double-precision erfc per test (the
    // values are the ones Normal.Cdf gave per call before).
    private static readonly float[] LowerEnds = [-3f, -4f];
    private static readonly double[] LowerEndCdf = Array.ConvertAll(LowerEnds, c => Normal.Cdf((double)c));

    // DropZ[K]: image j is dropped when (μ_c − μ_j)/√(σ_j² + σ_c²) > DropZ[K], i.e. P(X_j > X_c) < DropBudget/(K−1).
    private static readonly float[] DropZ = BuildDropZ();

    // LeftPack[mask]: the indices of mask's set bits (8 bits), lowest first, one per byte: the lane order that packs
    // those lanes to the front of a vector.
    private static readonly ulong[] LeftPack = BuildLeftPack();

    /// <summary>
    /// P(image <paramref name="chosen"/> has the largest draw), within <see cref="ErrorBound"/>; the panels run 16 or
    /// 8 nodes per instruction where the hardware has AVX-512 or AVX2. <paramref name="scratch"/> needs
    /// <see cref="ScratchLength"/> floats. Allocation-free.
    /// </summary>
    public static float Probability(ReadOnlySpan<float> means, ReadOnlySpan<float> stdDevs, int chosen, Span<float> scratch) =>
        Integrate(means, stdDevs, chosen, scratch, vector: true);

    /// <summary>The scalar reference of <see cref="Probability"/>: the same rule, each node in double precision.</summary>
    public static float ProbabilityScalar(ReadOnlySpan<float> means, ReadOnlySpan<float> stdDevs, int chosen, Span<float> scratch) =>
        Integrate(means, stdDevs, chosen, scratch, vector: false);

    /// <summary>Writes every image's probability into <paramref name="pmf"/> (K integrals: for debugging and evaluation, not per request).</summary>
    public static void Pmf(ReadOnlySpan<float> means, ReadOnlySpan<float> stdDevs, Span<float> scratch, Span<float> pmf)
    {
        for (var i = 0; i < means.Length; i++)
        {
            pmf[i] = Probability(means, stdDevs, i, scratch);
        }
    }

    private static float Integrate(ReadOnlySpan<float> means, ReadOnlySpan<float> stdDevs, int chosen, Span<float> scratch, bool vector)
    {
        var k = means.Length;
        var muC = means[chosen];
        var sigmaC = stdDevs[chosen];
        var a = scratch[..ModelFormat.MaxImages];
        var b = scratch.Slice(ModelFormat.MaxImages, ModelFormat.MaxImages);

        // 1. Which images can matter. Leaving image j out of G changes the integral by at most
        //    ∫ φ(u)(1 − Φ(a_j + b_j·u)) du = P(X_j > X_c) = Φ(−(μ_c − μ_j)/√(σ_j² + σ_c²)), so an image that far
        //    enough below the chosen one is dropped (compared squared: no square root, no division). The others set
        //    the range's lower end: below u_lo = max_j (−5.2·σ_j − (μ_c − μ_j))/σ_c some factor is under Φ(−5.2).
        var dropZ = DropZ[Math.Min(k, DropZ.Length - 1)];
        var dropZ2 = dropZ * dropZ;
        var sigmaC2 = sigmaC * sigmaC;
        var kept = 0;
        var loTimesSigma = -Tail * sigmaC;
        var j = 0;
        if (vector && Vector512.IsHardwareAccelerated)
        {
            // Sixteen images per step, no branch per image: the kept ones leave the mask in index order. The chosen
            // image's own candidate for the lower end, −5.2·σ_c − 0, is the starting value, so it changes nothing.
            var top = Vector512.Create(loTimesSigma);
            for (; j + 16 <= k; j += 16)
            {
                var s = Vector512.Create(stdDevs.Slice(j, 16));
                var d = Vector512.Create(muC) - Vector512.Create(means.Slice(j, 16));
                var drop = Vector512.GreaterThan(d, Vector512<float>.Zero)
                    & Vector512.GreaterThan(d * d, Vector512.Create(dropZ2) * ((s * s) + Vector512.Create(sigmaC2)));
                top = Vector512.ConditionalSelect(drop, top, Vector512.Max(top, (Vector512.Create(-Tail) * s) - d));
                var keep = ~drop.ExtractMostSignificantBits() & 0xFFFF;
                keep &= (uint)(chosen - j) < 16 ? ~(1UL << (chosen - j)) : ulong.MaxValue;
                for (; keep != 0; keep &= keep - 1)
                {
                    var i = j + BitOperations.TrailingZeroCount(keep);
                    a[kept] = muC - means[i];
                    b[kept] = stdDevs[i];
                    kept++;
                }
            }

            var half = Vector256.Max(top.GetLower(), top.GetUpper());
            var quarter = Vector128.Max(half.GetLower(), half.GetUpper());
            loTimesSigma = Math.Max(Math.Max(quarter[0], quarter[1]), Math.Max(quarter[2], quarter[3]));
        }
        else if (vector && Avx2.IsSupported && k <= ModelFormat.MaxImages)
        {
            // The same eight images per step (AVX2), the same operations as the scalar loop below (no fused steps), so
            // the same images are kept with the same values; the kept lanes are packed to the front (LeftPack) and
            // stored whole at a[kept..], b[kept..] (kept + 8 ≤ j + 8 ≤ k ≤ MaxImages: the lanes past the kept ones
            // land where the next step writes).
            var top = Vector256.Create(loTimesSigma);
            for (; j + 8 <= k; j += 8)
            {
                var s = Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(stdDevs), (nuint)j);
                var d = Vector256.Create(muC) - Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(means), (nuint)j);
                var drop = Vector256.GreaterThan(d, Vector256<float>.Zero)
                    & Vector256.GreaterThan(d * d, Vector256.Create(dropZ2) * ((s * s) + Vector256.Create(sigmaC2)));
                top = Vector256.ConditionalSelect(drop, top, Vector256.MaxNative(top, (Vector256.Create(-Tail) * s) - d));
                var keep = ~drop.ExtractMostSignificantBits() & 0xFF;
                keep &= (uint)(chosen - j) < 8 ? ~(1U << (chosen - j)) : uint.MaxValue;
                var order = PackOrder(keep);
                Avx2.PermuteVar8x32(d, order).StoreUnsafe(ref MemoryMarshal.GetReference(a), (nuint)kept);
                Avx2.PermuteVar8x32(s, order).StoreUnsafe(ref MemoryMarshal.GetReference(b), (nuint)kept);
                kept += BitOperations.PopCount(keep);
            }

            var quarter = Vector128.MaxNative(top.GetLower(), top.GetUpper());
            loTimesSigma = Math.Max(Math.Max(quarter[0], quarter[1]), Math.Max(quarter[2], quarter[3]));
        }

        for (; j < k; j++)
        {
            var d = muC - means[j];
            var s = stdDevs[j];
            if (j == chosen || (d > 0 && d * d > dropZ2 * ((s * s) + sigmaC2)))
            {
                continue;
            }

            loTimesSigma = Math.Max(loTimesSigma, (-Tail * s) - d);
            a[kept] = d;
            b[kept] = s;
            kept++;
        }

        if (kept == 0)
        {
            return 1f; // no image can beat it (beyond the dropped ones' bound): G = 1, and φ integrates to 1
        }

        var lo = Math.Max(loTimesSigma / sigmaC, -Tail);
        if (!(lo < Tail))
        {
            return 0f; // the integrand is below Φ(−5.2)·φ everywhere: P < 2e-7 plus the dropped images' bound
        }

        // 2. A factor already at Φ(5.6) at u_lo is 1 on the whole range: dropped too. The rest become (a_j, b_j), and
        //    the steepest one (largest b_j) says how fast G can rise: every factor completes its rise from Φ(−5.2) to
        //    Φ(5.6) within 10.8/b_j of u_lo, since it is at least Φ(−5.2) there.
        var m = 0;
        var bMax = 1f;
        var hiTimesSigma = float.NegativeInfinity; // (4.75 − a_j)/b_j = (4.75·σ_j − (μ_c − μ_j))/σ_c, see 3.
        var next = 0;
        if (vector && Avx2.IsSupported)
        {
            // Eight factors per step with the scalar loop's operations (no fused steps), so the same factors are kept
            // with the same values; the kept ones move down in place (each step reads its eight before it writes).
            (m, bMax, hiTimesSigma) = Factors256(a, b, kept, sigmaC, lo);
            next = kept;
        }

        for (var i = next; i < kept; i++)
        {
            var d = a[i];
            var s = b[i];
            if (d + (sigmaC * lo) >= FactorIsOne * s)
            {
                continue;
            }

            hiTimesSigma = Math.Max(hiTimesSigma, (TailIsOne * s) - d);
            var inverse = 1f / s;
            a[m] = d * inverse;
            b[m] = sigmaC * inverse;
            bMax = Math.Max(bMax, b[m]);
            m++;
        }

        // 3. Tighter ends, each still within the range cut's share of the bound. G only grows with u, so the mass below
        //    c is at most Φ(c)·G(c) ≤ Φ(c)·Π_j Φ(a_j + b_j·c): the higher of the trial points −3 and −4 where that product
        //    is under 1e-7 becomes the lower end (for the top image, usually instead of −5.2). Above
        //    u_hi = max_j (4.75 − a_j)/b_j every factor is over Φ(4.75) = 1 − 1.02e-6, so 1 − G < m·1.02e-6 there and
        //    ∫_{u_hi}^∞ φG is 1 − Φ(u_hi) in closed form within m·1.02e-6·(1 − Φ(u_hi)) ≤ 4.3e-8 (u_hi ≥ 3).
        for (var t = 0; t < LowerEnds.Length && LowerEnds[t] > lo; t++)
        {
            if (MassBelow(a, b, m, LowerEnds[t], LowerEndCdf[t], vector) <= BelowBudget)
            {
                lo = LowerEnds[t];
                break;
            }
        }

        var hi = Math.Max(3f, hiTimesSigma / sigmaC);
        var tail = 0.0;
        if (hi < Tail && lo < hi)
        {
            tail = 0.5 * Normal.Erfc(hi * InvSqrt2);
        }
        else
        {
            hi = Tail;
        }

        return (float)Math.Clamp(tail + Panels(a[..m], b[..m], lo, hi, bMax, scratch[(2 * ModelFormat.MaxImages)..], vector), 0, 1);
    }

    // Step 2 of Integrate eight factors at a time (AVX2): the (μ_c − μ_j, σ_j) pairs in a[..kept], b[..kept] become
    // the factors (a_j, b_j) not already 1 at u = lo, packed down to a[..m], b[..m] in order (in place: each step loads
    // its eight before it stores at m ≤ i, and a store's lanes past the kept ones land where the next step writes);
    // returns m, the largest b_j (at least 1) and the largest 4.75·σ_j − (μ_c − μ_j). Lanes past kept (a and b hold
    // MaxImages floats, and i + 8 ≤ MaxImages since i < kept < MaxImages) are masked.
    private static (int Count, float BMax, float HiTimesSigma) Factors256(Span<float> a, Span<float> b, int kept, float sigmaC, float lo)
    {
        var start = Vector256.Create(sigmaC * lo);
        var hi = Vector256.Create(float.NegativeInfinity);
        var bMax = Vector256<float>.One;
        var m = 0;
        for (var i = 0; i < kept; i += 8)
        {
            var d = Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(a), (nuint)i);
            var s = Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(b), (nuint)i);
            var inside = Vector256.LessThan(Vector256.Create(i) + Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(kept)).AsSingle();
            var use = Vector256.LessThan(d + start, Vector256.Create(FactorIsOne) * s) & inside;
            hi = Vector256.ConditionalSelect(use, Vector256.MaxNative(hi, (Vector256.Create(TailIsOne) * s) - d), hi);
            var inverse = Vector256<float>.One / s;
            var nb = Vector256.Create(sigmaC) * inverse;
            bMax = Vector256.ConditionalSelect(use, Vector256.MaxNative(bMax, nb), bMax);
            var bits = use.ExtractMostSignificantBits();
            var order = PackOrder(bits);
            Avx2.PermuteVar8x32(d * inverse, order).StoreUnsafe(ref MemoryMarshal.GetReference(a), (nuint)m);
            Avx2.PermuteVar8x32(nb, order).StoreUnsafe(ref MemoryMarshal.GetReference(b), (nuint)m);
            m += BitOperations.PopCount(bits);
        }

        var hiHalf = Vector128.MaxNative(hi.GetLower(), hi.GetUpper());
        var bHalf = Vector128.MaxNative(bMax.GetLower(), bMax.GetUpper());
        return (m, Math.Max(Math.Max(bHalf[0], bHalf[1]), Math.Max(bHalf[2], bHalf[3])),
            Math.Max(Math.Max(hiHalf[0], hiHalf[1]), Math.Max(hiHalf[2], hiHalf[3])));
    }

    // The lane order that packs the lanes set in mask (8 bits) to the front, in order, for PermuteVar8x32.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> PackOrder(uint mask) =>
        Avx2.ConvertToVector256Int32(Vector128.CreateScalarUnsafe(Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(LeftPack), (nint)(mask & 0xFF))).AsByte());

    private static ulong[] BuildLeftPack()
    {
        var table = new ulong[256];
        for (var mask = 0; mask < 256; mask++)
        {
            var shift = 0;
            for (var lane = 0; lane < 8; lane++)
            {
                if ((mask & (1 << lane)) != 0)
                {
                    table[mask] |= (ulong)lane << shift;
                    shift += 8;
                }
            }
        }

        return table;
    }

    // Φ(c)·Π_j Φ(a_j + b_j·c) over the m factors (in a and b, which have room past m): the bound on the mass below c,
    // with Φ(c) from LowerEndCdf. The vector form rounds Φ in single precision (relative error < 1e-5 each), which
    // BelowBudget leaves room for.
    private static double MassBelow(Span<float> a, Span<float> b, int m, float c, double cdfOfC, bool vector)
    {
        var product = cdfOfC;
        var j = 0;
        if (vector && Vector512.IsHardwareAccelerated)
        {
            var p = Vector512<float>.One;
            for (; j < m; j += 16)
            {
                var z = Vector512.FusedMultiplyAdd(Vector512.Create(b.Slice(j, 16)), Vector512.Create(c), Vector512.Create(a.Slice(j, 16)));
                var past = Vector512.GreaterThanOrEqual(Vector512.Create((float)j) + Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create((float)m));
                p *= Normal.Cdf(Vector512.ConditionalSelect(past, Vector512.Create(10f), z));
            }

            var half = p.GetLower() * p.GetUpper();
            var quarter = half.GetLower() * half.GetUpper();
            return product * quarter[0] * quarter[1] * quarter[2] * quarter[3];
        }

        if (vector && Vector256.IsHardwareAccelerated)
        {
            // Every factor is at most 1 (the vector Φ is 1 − h above 0), so once the product so far is under the budget
            // the rest cannot lift it back: the test stops there with the same answer (often after the first eight).
            var p = Vector256<float>.One;
            for (; j < m; j += 8)
            {
                // j + 8 ≤ MaxImages: j < m < MaxImages, and a and b hold MaxImages floats (lanes past m are masked).
                var z = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(b), (nuint)j), Vector256.Create(c), Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(a), (nuint)j));
                var past = Vector256.GreaterThanOrEqual(Vector256.Create((float)j) + Vector256.Create(0f, 1, 2, 3, 4, 5, 6, 7), Vector256.Create((float)m));
                p *= Normal.Cdf(Vector256.ConditionalSelect(past, Vector256.Create(10f), z));
                var quarter = p.GetLower() * p.GetUpper();
                product = cdfOfC * quarter[0] * quarter[1] * quarter[2] * quarter[3];
                if (product <= BelowBudget)
                {
                    break;
                }
            }

            return product;
        }

        for (; j < m; j++)
        {
            product *= Normal.Cdf(a[j] + ((double)b[j] * c));
        }

        return product;
    }

    // 4. Adaptive Gauss–Kronrod on [lo, hi]: start from a few panels placed where the integrand bends, then bisect the
    // panel with the largest |K15 − G7| until their sum is under QuadratureTolerance (or MaxPanels are used).
    private static double Panels(ReadOnlySpan<float> a, ReadOnlySpan<float> b, float lo, float hi, float bMax, Span<float> scratch, bool vector)
    {
        var panels = new PanelList(scratch);
        // Where a steep factor rises, a panel of its own. Then a range up to 7.5 wide (the usual one once the ends are
        // tightened) starts as two halves, a wider one breaks at ±1.5, where φ bends, when they are inside.
        var rise = (FactorIsOne + Tail) / bMax;
        var start = lo;
        if (rise < (hi - lo) / 3)
        {
            panels.Add(a, b, lo, lo + rise, vector);
            start = lo + rise;
        }

        if (hi - start > NarrowRange)
        {
            foreach (var cut in (ReadOnlySpan<float>)[-1.5f, 1.5f])
            {
                if (cut > start + 0.5f && cut < hi - 0.5f)
                {
                    panels.Add(a, b, start, cut, vector);
                    start = cut;
                }
            }
        }

        if (panels.Count == 0)
        {
            var mid = (start + hi) / 2;
            panels.Add(a, b, start, mid, vector);
            start = mid;
        }

        panels.Add(a, b, start, hi, vector);
        while (panels.Count < MaxPanels && panels.TotalError() > QuadratureTolerance)
        {
            var (l, r) = panels.RemoveWorst();
            var c = (l + r) / 2;
            panels.Add(a, b, l, c, vector);
            panels.Add(a, b, c, r, vector);
        }

        return panels.Sum();
    }

    // The panels so far, in four caller-owned columns: [left, right], the 15-point value and |K15 − G7|.
    private ref struct PanelList(Span<float> scratch)
    {
        private readonly Span<float> _left = scratch[..MaxPanels];
        private readonly Span<float> _right = scratch.Slice(MaxPanels, MaxPanels);
        private readonly Span<float> _value = scratch.Slice(2 * MaxPanels, MaxPanels);
        private readonly Span<float> _error = scratch.Slice(3 * MaxPanels, MaxPanels);

        public int Count { get; private set; }

        public void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, float l, float r, bool vector)
        {
            var (kronrod, gauss) = vector ? Panel(a, b, l, r) : PanelScalar(a, b, l, r);
            _left[Count] = l;
            _right[Count] = r;
            _value[Count] = (float)kronrod;
            _error[Count] = (float)Math.Abs(kronrod - gauss);
            Count++;
        }

        public readonly double TotalError()
        {
            double total = 0;
            for (var p = 0; p < Count; p++)
            {
                total += _error[p];
            }

            return total;
        }

        public readonly double Sum()
        {
            double sum = 0;
            for (var p = 0; p < Count; p++)
            {
                sum += _value[p];
            }

            return sum;
        }

        // Takes out the panel with the largest error estimate (the last panel moves into its slot).
        public (float Left, float Right) RemoveWorst()
        {
            var worst = 0;
            for (var p = 1; p < Count; p++)
            {
                worst = _error[p] > _error[worst] ? p : worst;
            }

            var removed = (_left[worst], _right[worst]);
            Count--;
            (_left[worst], _right[worst], _value[worst], _error[worst]) = (_left[Count], _right[Count], _value[Count], _error[Count]);
            return removed;
        }
    }

    private static float[] BuildDropZ()
    {
        var z = new float[ModelFormat.MaxImages + 1];
        for (var k = 2; k < z.Length; k++)
        {
            z[k] = (float)-Normal.InverseCdf(DropBudget / (k - 1));
        }

        z[0] = z[1] = z[2];
        return z;
    }
}
