using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;

namespace EdgeSelector.Core.Scoring;

/// <summary>
/// Int8 scoring, in integers (docs/model-format.md, "Precision"). The feature vector is made int8 per call: the
/// dense slots (genres, recommender score, …) as round(x_j · 127 / m) with m = max(1, their largest magnitude), the
/// hashed slots as they are (integer counts of ±1). A group row of an int8 section holds, in each 32-bit lane, one image's
/// weights for four consecutive features, so one VNNI <c>vpdpbusd</c> multiplies 8 images × 4 features and sums
/// them into int32 lanes; the dense and hashed groups go into separate sums, and
/// score_i = s_i · (m / 127 · dense_i + hashed_i) + b_i. From the encoder's sparse form each hashed feature is one
/// <c>vpdpbusd</c> against its group row with only its own byte set, so the hashed part of x is never built.
/// Without VNNI, AVX2 <c>vpmaddwd</c> does the same sums (from the sparse form: the dense groups, then per hashed
/// feature its own byte of its group row, picked with <c>vpshufb</c>); without AVX2, scalar code.
/// </summary>
public static unsafe partial class Scorer
{
    // Every schema's dense slots fill whole int8 groups, so no group mixes a dense and a hashed slot (compile-time
    // checks: the division is by zero, and does not compile, if a count stops being a multiple of the group).
    private const int DenseGroups = FeatureEncoder.DenseSlots / ModelFormat.Int8Group
        / (FeatureEncoder.DenseSlots % ModelFormat.Int8Group == 0 ? 1 : 0);

    private const int MaxDenseGroups = FeatureEncoder.MaxDenseSlots / ModelFormat.Int8Group
        / (FeatureEncoder.MaxDenseSlots % ModelFormat.Int8Group == 0 ? 1 : 0);

    /// <summary>
    /// Which int8 kernel this process runs: "AVX-VNNI", "AVX2" or "scalar" (the server prints it at start: a native
    /// binary built for x86-64-v3 takes the VNNI kernel only on a CPU that has AVX-VNNI).
    /// </summary>
    public static string Int8Kernel => AvxVnni.IsSupported ? "AVX-VNNI" : Avx2.IsSupported ? "AVX2" : "scalar";

    // Dense vector in: quantize the dense slots, round the hashed ones, then sum over every group.
    [SkipLocalsInit] // every group word is written before it is read
    private static void KernelInt8(
        ReadOnlySpan<byte> section, int kp, int d, int denseSlots, ReadOnlySpan<float> x,
        ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> output)
    {
        var groups = ModelFormat.PadFeatures(d) / ModelFormat.Int8Group;
        var denseGroups = denseSlots / ModelFormat.Int8Group;
        Span<int> xg = stackalloc int[groups];
        var denseScale = QuantizeDense(x[..denseSlots], xg[..denseGroups], out var denseSum);
        var hashedSum = RoundHashed(x[denseSlots..d], xg[denseGroups..]);
        fixed (byte* w = &MemoryMarshal.GetReference(section))
        fixed (int* xp = &MemoryMarshal.GetReference(xg))
        fixed (float* sp = &MemoryMarshal.GetReference(scale))
        fixed (float* bp = &MemoryMarshal.GetReference(bias))
        fixed (float* op = &MemoryMarshal.GetReference(output))
        {
            DotGroups(w, kp, xp, denseGroups, groups, denseScale, denseSum, hashedSum, sp, bp, op);
        }
    }

    // Sparse form in (the engine's path): no stackalloc here, so this is an ordinary tiered method. With VNNI each
    // hashed feature is its group row times a word with only its own byte set; with AVX2 alone, its own byte of each
    // image's lane is picked out of its group row; without AVX2 the hashed group words are built and DotGroups runs.
    private static void ScoreSparseInt8(scoped in ModelView model, in SparseFeatures features, float* op)
    {
        if (!Avx2.IsSupported)
        {
            ScoreSparseInt8Materialized(model, features, op);
            return;
        }

        Unsafe.SkipInit(out DenseWords words); // QuantizeDense writes the schema's five or nine
        var denseCount = features.DenseCount;
        var schemaGroups = denseCount / ModelFormat.Int8Group;
        var denseScale = QuantizeDense(((ReadOnlySpan<float>)features.Dense)[..denseCount], ((Span<int>)words)[..schemaGroups], out var denseSum);
        var denseGroups = ActiveDenseGroups(words, schemaGroups);
        fixed (byte* w = &MemoryMarshal.GetReference(model.Weights))
        fixed (float* sp = &MemoryMarshal.GetReference(model.WeightScales))
        fixed (float* bp = &MemoryMarshal.GetReference(model.Biases))
        fixed (SparseFeatures* f = &Unsafe.AsRef(in features))
        {
            if (AvxVnni.IsSupported)
            {
                SparseVnni(w, model.PaddedCount, model.Dimension, (int*)&words, denseGroups, denseCount, f, denseScale, denseSum, sp, bp, op);
            }
            else
            {
                SparseAvx2(w, model.PaddedCount, model.Dimension, (int*)&words, denseGroups, denseCount, f, denseScale, denseSum, sp, bp, op);
            }
        }
    }

    // Without AVX2: the hashed group words built from the sparse features (the sum of their bytes), then DotGroups.
    // Its slot-by-slot clamp is the rule HashedContributions gives the vector paths.
    [SkipLocalsInit] // every group word is written before it is read
    private static void ScoreSparseInt8Materialized(scoped in ModelView model, in SparseFeatures features, float* op)
    {
        var kp = model.PaddedCount;
        var groups = ModelFormat.PadFeatures(model.Dimension) / ModelFormat.Int8Group;
        var denseCount = features.DenseCount;
        var denseGroups = denseCount / ModelFormat.Int8Group;
        Span<int> xg = stackalloc int[groups];
        var denseScale = QuantizeDense(((ReadOnlySpan<float>)features.Dense)[..denseCount], xg[..denseGroups], out var denseSum);
        var hashed = MemoryMarshal.Cast<int, sbyte>(xg[denseGroups..]);
        hashed.Clear();
        var hashedSum = 0;
        for (var f = 0; f < SparseFeatures.HashedCount; f++)
        {
            var at = features.Slots[f] - denseCount;
            if ((uint)at >= (uint)(model.Dimension - denseCount) || (uint)(features.Signs[f] + 127) > 254)
            {
                ThrowBadHashedFeature(); // the same rule HashedContributions checks eight lanes at a time
            }

            var value = Math.Clamp(hashed[at] + features.Signs[f], -127, 127);
            hashedSum += value - hashed[at];
            hashed[at] = (sbyte)value;
        }

        fixed (byte* w = &MemoryMarshal.GetReference(model.Weights))
        fixed (int* xp = &MemoryMarshal.GetReference(xg))
        fixed (float* sp = &MemoryMarshal.GetReference(model.WeightScales))
        fixed (float* bp = &MemoryMarshal.GetReference(model.Biases))
        {
            DotGroups(w, kp, xp, denseGroups, groups, denseScale, denseSum, hashedSum, sp, bp, op);
        }
    }

    // Schema 2's genre × interacted groups are all zero for a member who has not interacted with the title (most
    // requests): then only schema 1's five dense groups are multiplied. Zero words add nothing to a sum or to Σ q.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ActiveDenseGroups(ReadOnlySpan<int> words, int schemaGroups) =>
        schemaGroups == MaxDenseGroups && (words[5] | words[6] | words[7] | words[8]) == 0 ? DenseGroups : schemaGroups;

    // vpdpbusd multiplies the stored weight bytes (q + 128, unsigned) by signed x bytes: Σ (q + 128)·x = Σ q·x +
    // 128·Σ x, so 128 · Σ x comes off each sum. Per hashed feature: the byte offset of its group row and the word
    // with its sign in its own byte, computed once; then per block of 8 images 5 dense and 8 hashed instructions.
    private static void SparseVnni(
        byte* w, int kp, int d, int* dense, int denseGroups, int denseCount, SparseFeatures* features, float denseScale, int denseSum, float* sp, float* bp, float* op)
    {
        var stride = kp * ModelFormat.Int8Group;
        var signs = HashedContributions(features, d, denseCount, out var slots);

        // Row offset of each feature's group, and its sign moved into its byte of the group word (slot mod 4).
        Unsafe.SkipInit(out HashedWords rowWords);
        Unsafe.SkipInit(out HashedWords signWords);
        var rows = (int*)&rowWords;
        var words = (int*)&signWords;
        (Vector256.ShiftRightArithmetic(slots, 2) * Vector256.Create(stride)).Store(rows); // ModelFormat.Int8Group = 4
        Avx2.ShiftLeftLogicalVariable(signs & Vector256.Create(0xFF), ((slots & Vector256.Create(3)) << 3).AsUInt32()).Store(words);
        var hashedSum = Vector256.Sum(signs);

        var denseCorrection = Vector256.Create(128 * denseSum);
        var hashedCorrection = Vector256.Create(128 * hashedSum);
        var i = 0;
        for (; i + 16 <= kp; i += 16)
        {
            // Two blocks of 8 images share every broadcast of x.
            var block = w + (i * ModelFormat.Int8Group);
            var (dense0, dense1) = DotVnni16(block, stride, dense, 0, denseGroups);
            Vector256<int> a0 = default, a1 = default, b0 = default, b1 = default;
            for (var f = 0; f < SparseFeatures.HashedCount; f += 2)
            {
                var x0 = Vector256.Create(words[f]).AsSByte();
                var x1 = Vector256.Create(words[f + 1]).AsSByte();
                a0 = AvxVnni.MultiplyWideningAndAdd(a0, Vector256.Load(block + rows[f]), x0);
                b0 = AvxVnni.MultiplyWideningAndAdd(b0, Vector256.Load(block + rows[f] + 32), x0);
                a1 = AvxVnni.MultiplyWideningAndAdd(a1, Vector256.Load(block + rows[f + 1]), x1);
                b1 = AvxVnni.MultiplyWideningAndAdd(b1, Vector256.Load(block + rows[f + 1] + 32), x1);
            }

            Finish(dense0 - denseCorrection, (a0 + a1) - hashedCorrection, denseScale, sp + i, bp + i, op + i);
            Finish(dense1 - denseCorrection, (b0 + b1) - hashedCorrection, denseScale, sp + i + 8, bp + i + 8, op + i + 8);
        }

        for (; i + 8 <= kp; i += 8)
        {
            var block = w + (i * ModelFormat.Int8Group);
            var sum = DotVnni8(block, stride, dense, 0, denseGroups);
            Vector256<int> h0 = default, h1 = default, h2 = default, h3 = default;
            for (var f = 0; f < SparseFeatures.HashedCount; f += 4)
            {
                h0 = AvxVnni.MultiplyWideningAndAdd(h0, Vector256.Load(block + rows[f]), Vector256.Create(words[f]).AsSByte());
                h1 = AvxVnni.MultiplyWideningAndAdd(h1, Vector256.Load(block + rows[f + 1]), Vector256.Create(words[f + 1]).AsSByte());
                h2 = AvxVnni.MultiplyWideningAndAdd(h2, Vector256.Load(block + rows[f + 2]), Vector256.Create(words[f + 2]).AsSByte());
                h3 = AvxVnni.MultiplyWideningAndAdd(h3, Vector256.Load(block + rows[f + 3]), Vector256.Create(words[f + 3]).AsSByte());
            }

            Finish(sum - denseCorrection, ((h0 + h1) + (h2 + h3)) - hashedCorrection, denseScale, sp + i, bp + i, op + i);
        }
    }

    // AVX2 without VNNI. The dense groups as DotGroups multiplies them (vpmaddwd on bytes widened to int16, the x words
    // widened once per call by two or three vpmovsxbw). Per hashed feature only its own group row: vpshufb takes byte
    // (slot mod 4) of each image's 32-bit lane into the low int16 of the lane for an even feature, the high one for an
    // odd feature; a pair is or-ed together and one vpmaddwd by the pair's signs gives s_f·(q_f + 128) + s_g·(q_g + 128)
    // per image. So 8 images cost 5 dense groups × 7 and 8 features × 4.5 instructions, nothing per call is cleared
    // or built byte by byte, and the sums are the integers DotGroups gets from the materialized words.
    [SkipLocalsInit] // every word and vector on the stack is written before it is read
    private static void SparseAvx2(
        byte* w, int kp, int d, int* dense, int denseGroups, int denseCount, SparseFeatures* features, float denseScale, int denseSum, float* sp, float* bp, float* op)
    {
        var stride = kp * ModelFormat.Int8Group;
        var signs = HashedContributions(features, d, denseCount, out var slots);

        // The dense words as int16, four groups per vpmovsxbw (DenseWords has room for whole fours).
        Unsafe.SkipInit(out WideDenseWords wideWords);
        var wide = (long*)&wideWords;
        for (var g = 0; g < denseGroups; g += 4)
        {
            Avx2.ConvertToVector256Int16((sbyte*)(dense + g)).Store((short*)(wide + g));
        }

        // Row offset of each feature's group; its vpshufb control: in every lane l (of four per 128 bits) byte 4l + slot
        // mod 4 to byte 0 (even f) or byte 2 (odd f) and zero to the other three (0x80); the signs as int16 pairs.
        Unsafe.SkipInit(out HashedWords rowWords);
        Unsafe.SkipInit(out HashedWords pickWords);
        Unsafe.SkipInit(out HashedVectors pickVectors);
        var rows = (int*)&rowWords;
        var picks = (Vector256<byte>*)&pickVectors;
        (Vector256.ShiftRightArithmetic(slots, 2) * Vector256.Create(stride)).Store(rows); // ModelFormat.Int8Group = 4
        var toHigh = Vector256.Create(0u, 16u, 0u, 16u, 0u, 16u, 0u, 16u);
        var zeroed = Vector256.Create(unchecked((int)0x80808000), unchecked((int)0x80008080), unchecked((int)0x80808000), unchecked((int)0x80008080),
            unchecked((int)0x80808000), unchecked((int)0x80008080), unchecked((int)0x80808000), unchecked((int)0x80008080));
        (Avx2.ShiftLeftLogicalVariable(slots & Vector256.Create(3), toHigh) | zeroed).Store((int*)&pickWords);
        var even = Vector256.Create(0, 4, 8, 12, 0, 4, 8, 12);
        var odd = even << 16;
        picks[0] = (Vector256.Create(pickWords[0]) + even).AsByte();
        picks[1] = (Vector256.Create(pickWords[1]) + odd).AsByte();
        picks[2] = (Vector256.Create(pickWords[2]) + even).AsByte();
        picks[3] = (Vector256.Create(pickWords[3]) + odd).AsByte();
        picks[4] = (Vector256.Create(pickWords[4]) + even).AsByte();
        picks[5] = (Vector256.Create(pickWords[5]) + odd).AsByte();
        picks[6] = (Vector256.Create(pickWords[6]) + even).AsByte();
        picks[7] = (Vector256.Create(pickWords[7]) + odd).AsByte();

        var pairs = Vector256.Narrow(signs, signs).AsInt32(); // element p: (s_2p, s_2p+1) as int16, each within ±127
        var pair0 = Vector256.Create(pairs.GetElement(0)).AsInt16();
        var pair1 = Vector256.Create(pairs.GetElement(1)).AsInt16();
        var pair2 = Vector256.Create(pairs.GetElement(2)).AsInt16();
        var pair3 = Vector256.Create(pairs.GetElement(3)).AsInt16();

        var denseCorrection = Vector256.Create(128 * denseSum);
        var hashedCorrection = Vector256.Create(128 * Vector256.Sum(signs));
        for (var i = 0; i < kp; i += 8) // kp is a multiple of ModelFormat.LaneMultiple = 8
        {
            var block = w + (i * ModelFormat.Int8Group);
            var sum = DotMadd8(block, stride, wide, 0, denseGroups);
            var h0 = Avx2.MultiplyAddAdjacent(PickPair(block, rows, picks, 0), pair0);
            var h1 = Avx2.MultiplyAddAdjacent(PickPair(block, rows, picks, 2), pair1);
            var h2 = Avx2.MultiplyAddAdjacent(PickPair(block, rows, picks, 4), pair2);
            var h3 = Avx2.MultiplyAddAdjacent(PickPair(block, rows, picks, 6), pair3);
            Finish(sum - denseCorrection, ((h0 + h1) + (h2 + h3)) - hashedCorrection, denseScale, sp + i, bp + i, op + i);
        }
    }

    // Features f and f + 1 of 8 images: each one's stored byte (q + 128) zero-extended into its int16 of the lane.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> PickPair(byte* block, int* rows, Vector256<byte>* picks, int f) =>
        (Avx2.Shuffle(Vector256.Load(block + rows[f]), picks[f]) | Avx2.Shuffle(Vector256.Load(block + rows[f + 1]), picks[f + 1])).AsInt16();

    // The hashed features as the vector paths use them, checked by the rule the materialized path checks one at a time
    // (every slot in [the schema's dense slots, d), every sign within ±127), and each one's contribution to its slot:
    // the materialized path clamps a slot's count to ±127 after each feature, so a feature adds clamp(count so far +
    // sign) − count so far. With Σ|sign| ≤ 127 (the encoder's eight ±1 always) no count can reach the clamp and the
    // signs are the contributions as they are; otherwise ClampedContributions replays the clamp.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> HashedContributions(SparseFeatures* features, int d, int denseCount, out Vector256<int> slots)
    {
        // Slots and signs as the encoder stored them (one 64-byte store with AVX-512), read back at that width.
        Vector256<int> signs;
        if (Vector512.IsHardwareAccelerated)
        {
            var both = Vector512.Load((int*)&features->Slots);
            (slots, signs) = (both.GetLower(), both.GetUpper());
        }
        else
        {
            slots = Vector256.Load((int*)&features->Slots);
            signs = Vector256.Load((int*)&features->Signs);
        }

        var outOfRange = Vector256.GreaterThanOrEqual((slots - Vector256.Create(denseCount)).AsUInt32(), Vector256.Create((uint)(d - denseCount)))
            | Vector256.GreaterThan((signs + Vector256.Create(127)).AsUInt32(), Vector256.Create(254u));
        if (outOfRange != Vector256<uint>.Zero)
        {
            ThrowBadHashedFeature();
        }

        return Vector256.Sum(Vector256.Abs(signs)) <= 127 ? signs : ClampedContributions(slots, signs);
    }

    // Rare (no encoder writes it): the slot-by-slot clamp of ScoreSparseInt8Materialized, feature by feature.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector256<int> ClampedContributions(Vector256<int> slots, Vector256<int> signs)
    {
        Unsafe.SkipInit(out HashedWords contributions);
        for (var f = 0; f < SparseFeatures.HashedCount; f++)
        {
            var count = 0;
            for (var g = 0; g < f; g++)
            {
                count += slots.GetElement(g) == slots.GetElement(f) ? contributions[g] : 0;
            }

            contributions[f] = Math.Clamp(count + signs.GetElement(f), -127, 127) - count;
        }

        return Vector256.Create((ReadOnlySpan<int>)contributions);
    }

    // Sums over every group word: groups below denseGroups into the dense sum, the rest into the hashed sum.
    private static void DotGroups(byte* w, int kp, int* xg, int denseGroups, int groups, float denseScale, int denseSum, int hashedSum, float* sp, float* bp, float* op)
    {
        var stride = kp * ModelFormat.Int8Group;
        var i = 0;

        // Both vector paths multiply the stored bytes (q + 128) and take 128 · Σ x off each sum.
        var denseCorrection = Vector256.Create(128 * denseSum);
        var hashedCorrection = Vector256.Create(128 * hashedSum);
        if (AvxVnni.IsSupported)
        {
            for (; i + 8 <= kp; i += 8)
            {
                var block = w + (i * ModelFormat.Int8Group);
                var dense = DotVnni8(block, stride, xg, 0, denseGroups) - denseCorrection;
                var hashed = DotVnni8(block, stride, xg, denseGroups, groups) - hashedCorrection;
                Finish(dense, hashed, denseScale, sp + i, bp + i, op + i);
            }
        }
        else if (Avx2.IsSupported)
        {
            var wide = stackalloc short[groups * ModelFormat.Int8Group]; // the same features as int16 lanes
            var bytes = (sbyte*)xg;
            var j = 0;
            for (; j + 8 <= groups * ModelFormat.Int8Group; j += 8)
            {
                Sse41.ConvertToVector128Int16(bytes + j).Store(wide + j);
            }

            for (; j < groups * ModelFormat.Int8Group; j++)
            {
                wide[j] = bytes[j];
            }

            for (; i + 8 <= kp; i += 8)
            {
                var block = w + (i * ModelFormat.Int8Group);
                var dense = DotMadd8(block, stride, (long*)wide, 0, denseGroups) - denseCorrection;
                var hashed = DotMadd8(block, stride, (long*)wide, denseGroups, groups) - hashedCorrection;
                Finish(dense, hashed, denseScale, sp + i, bp + i, op + i);
            }
        }

        var x = (sbyte*)xg;
        for (; i < kp; i++)
        {
            int dense = 0, hashed = 0;
            for (var j = 0; j < groups * ModelFormat.Int8Group; j++)
            {
                var product = (w[ModelFormat.ElementIndex(WeightPrecision.Int8, kp, j, i)] - ModelFormat.Int8Offset) * x[j];
                if (j < denseGroups * ModelFormat.Int8Group)
                {
                    dense += product;
                }
                else
                {
                    hashed += product;
                }
            }

            op[i] = MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(dense, denseScale, hashed), sp[i], bp[i]);
        }
    }

    // 8 images × groups [start, end) of stored bytes (q + 128) times signed x: four accumulators hide vpdpbusd's latency.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotVnni8(byte* block, int stride, int* xg, int start, int end)
    {
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        var row = block + (start * stride);
        var g = start;
        for (; g + 4 <= end; g += 4, row += 4 * stride)
        {
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, Vector256.Load(row), Vector256.Create(xg[g]).AsSByte());
            a1 = AvxVnni.MultiplyWideningAndAdd(a1, Vector256.Load(row + stride), Vector256.Create(xg[g + 1]).AsSByte());
            a2 = AvxVnni.MultiplyWideningAndAdd(a2, Vector256.Load(row + (2 * stride)), Vector256.Create(xg[g + 2]).AsSByte());
            a3 = AvxVnni.MultiplyWideningAndAdd(a3, Vector256.Load(row + (3 * stride)), Vector256.Create(xg[g + 3]).AsSByte());
        }

        for (; g < end; g++, row += stride)
        {
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, Vector256.Load(row), Vector256.Create(xg[g]).AsSByte());
        }

        return (a0 + a1) + (a2 + a3);
    }

    // 16 images (two blocks) × groups [start, end): each broadcast of x serves both blocks.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<int> Lo, Vector256<int> Hi) DotVnni16(byte* block, int stride, int* xg, int start, int end)
    {
        Vector256<int> a0 = default, a1 = default, b0 = default, b1 = default;
        var row = block + (start * stride);
        var g = start;
        for (; g + 2 <= end; g += 2, row += 2 * stride)
        {
            var x0 = Vector256.Create(xg[g]).AsSByte();
            var x1 = Vector256.Create(xg[g + 1]).AsSByte();
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, Vector256.Load(row), x0);
            b0 = AvxVnni.MultiplyWideningAndAdd(b0, Vector256.Load(row + 32), x0);
            a1 = AvxVnni.MultiplyWideningAndAdd(a1, Vector256.Load(row + stride), x1);
            b1 = AvxVnni.MultiplyWideningAndAdd(b1, Vector256.Load(row + stride + 32), x1);
        }

        if (g < end)
        {
            var x0 = Vector256.Create(xg[g]).AsSByte();
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, Vector256.Load(row), x0);
            b0 = AvxVnni.MultiplyWideningAndAdd(b0, Vector256.Load(row + 32), x0);
        }

        return (a0 + a1, b0 + b1);
    }

    // Without VNNI: zero-extend 16 stored bytes (4 images × 4 features, q + 128) to int16 and vpmaddwd them with the
    // features as int16, giving two partial sums per image; one horizontal add and a qword permute put the 8
    // images back in order. (q + 128)·x ≤ 255 · 127, so the pair sums fit vpmaddwd's int32 lanes.
    // Two groups per step, x and the row walked by pointer (no index arithmetic in the loop).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotMadd8(byte* block, int stride, long* xw, int start, int end)
    {
        Vector256<int> lo = default, hi = default, lo1 = default, hi1 = default;
        var row = block + (start * stride);
        var x = xw + start;
        var last = xw + end;
        for (; x + 2 <= last; x += 2, row += 2 * stride)
        {
            var x0 = Vector256.Create(x[0]).AsInt16();
            var x1 = Vector256.Create(x[1]).AsInt16();
            lo += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(row), x0);
            hi += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(row + 16), x0);
            lo1 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(row + stride), x1);
            hi1 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(row + stride + 16), x1);
        }

        if (x < last)
        {
            var x0 = Vector256.Create(x[0]).AsInt16();
            lo += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(row), x0);
            hi += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(row + 16), x0);
        }

        // lo = [i0 i0 i1 i1 | i2 i2 i3 i3], hi = images 4-7 → hadd = [i0 i1 i4 i5 | i2 i3 i6 i7] → qwords 0, 2, 1, 3.
        return Avx2.Permute4x64(Avx2.HorizontalAdd(lo + lo1, hi + hi1).AsInt64(), 0b11_01_10_00).AsInt32();
    }

    // score = s · (denseScale · dense + hashed) + b for 8 images.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Vector256<int> dense, Vector256<int> hashed, float denseScale, float* scale, float* bias, float* output)
    {
        var dot = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(dense), Vector256.Create(denseScale), Vector256.ConvertToSingle(hashed));
        Vector256.FusedMultiplyAdd(dot, Vector256.Load(scale), Vector256.Load(bias)).Store(output);
    }

    /// <summary>
    /// Quantizes the dense slots into group words: q_j = round(x_j · 127 / m) (ties to even), four per word, low
    /// byte first, with m = max(1, max |x_j|): the dense slots are shares, scores, flags and sin/cos, within ±1 in
    /// practice, so the step is 1/127 and the common case needs neither the maximum nor a division on its path (the
    /// check that every |x_j| ≤ 1 is a predictable branch beside it). Returns the scale m / 127 (0, with all words
    /// zero, when some x_j is NaN or infinite); <paramref name="sum"/> is Σ q_j. The genres are read with the width
    /// the encoder wrote them with (so the CPU forwards its stores), the other four one by one into a fifth vector;
    /// schema 2's sixteen genre × interacted slots (36 dense slots, nine words) as two more vectors.
    /// </summary>
    private static float QuantizeDense(ReadOnlySpan<float> dense, Span<int> words, out int sum)
    {
        if (!Vector256.IsHardwareAccelerated || dense.Length != words.Length * ModelFormat.Int8Group
            || dense.Length is not (FeatureEncoder.DenseSlots or FeatureEncoder.DenseSlotsSchema2))
        {
            return QuantizeDenseScalar(dense, words, out sum);
        }

        ref var first = ref MemoryMarshal.GetReference(dense);
        Vector256<float> g0, g1;
        if (Vector512.IsHardwareAccelerated)
        {
            var genres = Vector512.LoadUnsafe(ref first);
            (g0, g1) = (genres.GetLower(), genres.GetUpper());
        }
        else
        {
            g0 = Vector256.LoadUnsafe(ref first);
            g1 = Vector256.LoadUnsafe(ref first, 8);
        }

        var g2 = Vector128.Create(dense[16], dense[17], dense[18], dense[19]);
        var one = Vector256<float>.One;
        var extended = dense.Length == FeatureEncoder.DenseSlotsSchema2;
        var e0 = extended ? Vector256.LoadUnsafe(ref first, FeatureEncoder.InteractedGenreSlot) : Vector256<float>.Zero;
        var e1 = extended ? Vector256.LoadUnsafe(ref first, FeatureEncoder.InteractedGenreSlot + 8) : Vector256<float>.Zero;
        if (!Vector256.LessThanOrEqualAll(Vector256.Abs(g0), one) || !Vector256.LessThanOrEqualAll(Vector256.Abs(g1), one)
            || !Vector128.LessThanOrEqualAll(Vector128.Abs(g2), Vector128<float>.One)
            || !Vector256.LessThanOrEqualAll(Vector256.Abs(e0), one) || !Vector256.LessThanOrEqualAll(Vector256.Abs(e1), one))
        {
            // Rare: some |x_j| > 1, or a NaN (which fails every comparison): the scalar form finds m and divides.
            return QuantizeDenseScalar(dense, words, out sum);
        }

        const float Inverse = 127f; // m = 1
        var q0 = Vector256.ConvertToInt32Native(Vector256.Round(g0 * Inverse)); // in range: exact
        var q1 = Vector256.ConvertToInt32Native(Vector256.Round(g1 * Inverse));
        var q2 = Vector128.ConvertToInt32Native(Vector128.Round(g2 * Inverse));
        sum = Vector256.Sum(q0 + q1) + Vector128.Sum(q2);
        var shorts = Vector256.Narrow(q0, q1);
        ref var target = ref MemoryMarshal.GetReference(words);
        Vector128.Narrow(shorts.GetLower(), shorts.GetUpper()).AsInt32().StoreUnsafe(ref target);
        var tail = Vector128.Narrow(q2, q2);
        Unsafe.Add(ref target, 4) = Vector128.Narrow(tail, tail).AsInt32().ToScalar();
        if (extended)
        {
            var q3 = Vector256.ConvertToInt32Native(Vector256.Round(e0 * Inverse));
            var q4 = Vector256.ConvertToInt32Native(Vector256.Round(e1 * Inverse));
            sum += Vector256.Sum(q3 + q4);
            var more = Vector256.Narrow(q3, q4);
            Vector128.Narrow(more.GetLower(), more.GetUpper()).AsInt32().StoreUnsafe(ref target, 5);
        }

        return 1f / 127f;
    }

    // Slots after the genres in the dense part (recommender score, interacted, hour sin, hour cos).
    private const int DenseTail = FeatureEncoder.DenseSlots - MemberProfile.GenreCount;

    private static float QuantizeDenseScalar(ReadOnlySpan<float> dense, Span<int> words, out int sum)
    {
        sum = 0;
        var max = 1f;
        foreach (var v in dense)
        {
            var a = Math.Abs(v);
            if (!float.IsFinite(a))
            {
                words.Clear();
                return 0f;
            }

            max = a > max ? a : max;
        }

        var inverse = 127f / max;
        var total = 0;
        for (var g = 0; g < words.Length; g++)
        {
            var word = 0;
            for (var p = 0; p < ModelFormat.Int8Group; p++)
            {
                var q = (int)MathF.Round(dense[(g * ModelFormat.Int8Group) + p] * inverse);
                total += q;
                word |= (q & 0xFF) << (8 * p);
            }

            words[g] = word;
        }

        sum = total;
        return max / 127f;
    }

    // The hashed slots as int8 counts (rounded, clamped to ±127, NaN → 0), four per word, padding zero; returns Σ.
    // Sixteen (AVX-512) or eight (AVX2) slots per step: round to even as MathF.Round, clamp, narrow to bytes, which
    // in memory are the words the scalar loop builds (ScorerTests.ScoreVariance_* compare with the scalar reference).
    private static int RoundHashed(ReadOnlySpan<float> hashed, Span<int> words)
    {
        var sum = 0;
        var g = 0;
        if (Avx512F.IsSupported)
        {
            var total = Vector512<int>.Zero;
            for (; (4 * g) + 16 <= hashed.Length; g += 4)
            {
                var q = RoundClamp(Vector512.Create(hashed.Slice(4 * g, 16)));
                total += q;
                Avx512F.ConvertToVector128SByte(q).AsInt32().CopyTo(words[g..]);
            }

            sum = Vector512.Sum(total);
        }

        if (Avx2.IsSupported)
        {
            var total = Vector256<int>.Zero;
            for (; (4 * g) + 8 <= hashed.Length; g += 2)
            {
                var q = RoundClamp(Vector256.Create(hashed.Slice(4 * g, 8)));
                total += q;
                var shorts = Vector256.Narrow(q, q).GetLower();
                var bytes = Vector128.Narrow(shorts, shorts).AsInt32();
                words[g] = bytes.GetElement(0);
                words[g + 1] = bytes.GetElement(1);
            }

            sum += Vector256.Sum(total);
        }

        for (; g < words.Length; g++)
        {
            var word = 0;
            for (var p = 0; p < ModelFormat.Int8Group; p++)
            {
                var j = (g * ModelFormat.Int8Group) + p;
                var v = j < hashed.Length && !float.IsNaN(hashed[j]) ? hashed[j] : 0f;
                var q = (int)Math.Clamp(MathF.Round(v), -127f, 127f);
                sum += q;
                word |= (q & 0xFF) << (8 * p);
            }

            words[g] = word;
        }

        return sum;
    }

    // NaN → 0 (it is not equal to itself), round to even, clamp to ±127, convert: the scalar rule lane by lane.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> RoundClamp(Vector512<float> v)
    {
        v = Vector512.ConditionalSelect(Vector512.Equals(v, v), Vector512.Round(v), Vector512<float>.Zero);
        return Vector512.ConvertToInt32(Vector512.Min(Vector512.Max(v, Vector512.Create(-127f)), Vector512.Create(127f)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> RoundClamp(Vector256<float> v)
    {
        v = Vector256.ConditionalSelect(Vector256.Equals(v, v), Vector256.Round(v), Vector256<float>.Zero);
        return Vector256.ConvertToInt32(Vector256.Min(Vector256.Max(v, Vector256.Create(-127f)), Vector256.Create(127f)));
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowBadHashedFeature() =>
        throw new ArgumentException("a hashed feature's slot is outside [the schema's dense slots, d) or its sign outside ±127");

    // The dense group words (five for schema 1, nine for schema 2), inline on the stack, with room up to a whole four
    // (SparseAvx2 widens four words per load; the words past the schema's are never used).
    [InlineArray((MaxDenseGroups + 3) & ~3)]
    private struct DenseWords
    {
        private int _element0;
    }

    // The dense group words as int16 lanes, four features per long (SparseAvx2).
    [InlineArray((MaxDenseGroups + 3) & ~3)]
    private struct WideDenseWords
    {
        private long _element0;
    }

    // One vector per hashed feature, inline on the stack (SparseAvx2's vpshufb controls).
    [InlineArray(SparseFeatures.HashedCount)]
    private struct HashedVectors
    {
        private Vector256<byte> _element0;
    }

    // One word per hashed feature, inline on the stack.
    [InlineArray(SparseFeatures.HashedCount)]
    private struct HashedWords
    {
        private int _element0;
    }
}
