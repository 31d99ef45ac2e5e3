using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;

namespace EdgeSelector.Core.Scoring;

/// <summary>
/// Scores every candidate of a model: score_i = scale_i · Σ_j W[j, i] · x_j + b_i. Float sections (fp32, bf16) are
/// feature-major, so one broadcast x_j multiplies a whole row of images and the scores come out as vectors with no
/// horizontal sums (Vector512 → Vector256 → scalar). Int8 sections are scored in integers (Scorer.Int8.cs).
/// <see cref="ScoreScalar"/> is the reference the tests compare against (also with DOTNET_EnableHWIntrinsic=0 and
/// DOTNET_EnableAVXVNNI=0, which CI runs). Allocation-free.
/// </summary>
public static unsafe partial class Scorer
{
    /// <summary>
    /// Writes the mean score of every image into <paramref name="scores"/> (length at least
    /// <see cref="ModelView.PaddedCount"/>; lanes past <see cref="ModelView.ImageCount"/> are padding).
    /// </summary>
    public static void Score(scoped in ModelView model, ReadOnlySpan<float> x, Span<float> scores) =>
        Kernel(model.Weights, model.Precision, model.PaddedCount, model.Dimension, model.DenseSlots, x, model.WeightScales, model.Biases, scores);

    /// <summary>
    /// Scores from the encoder's sparse form, with the same result as scoring the dense vector it stands for. Int8
    /// models take it as it is (the hashed features cost one instruction each and nothing of x is materialized);
    /// float models get the dense vector written on the stack first.
    /// </summary>
    public static void Score(scoped in ModelView model, in SparseFeatures features, Span<float> scores)
    {
        if (features.Dimension != model.Dimension || features.DenseCount != model.DenseSlots || (uint)scores.Length < (uint)model.PaddedCount)
        {
            ThrowSizes();
        }

        if (model.Precision != WeightPrecision.Int8)
        {
            ScoreDense(model, features, scores);
            return;
        }

        // The kernel gets a pointer, not the span: a span passed to a method that also uses stackalloc is spilled and
        // copied through memory on entry, a store-forwarding stall on every selection.
        fixed (float* output = &MemoryMarshal.GetReference(scores))
        {
            ScoreSparseInt8(model, features, output);
        }
    }

    /// <summary>
    /// Writes the posterior variance of every image's score, Σ_j V[j, i] · x_j² + v_b,i, into
    /// <paramref name="variances"/>; <paramref name="xSquared"/> is scratch of length d. Zeros when the model has no
    /// variance section.
    /// </summary>
    public static void ScoreVariance(scoped in ModelView model, ReadOnlySpan<float> x, Span<float> xSquared, Span<float> variances)
    {
        var d = model.Dimension;
        if (!model.HasVariances)
        {
            variances[..model.PaddedCount].Clear();
            return;
        }

        if ((uint)x.Length < (uint)d || (uint)xSquared.Length < (uint)d)
        {
            ThrowSizes();
        }

        var j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j + 16 <= d; j += 16)
            {
                var v = Vector512.Create(x.Slice(j, 16));
                (v * v).CopyTo(xSquared[j..]);
            }
        }

        if (Vector256.IsHardwareAccelerated)
        {
            for (; j + 8 <= d; j += 8)
            {
                var v = Vector256.Create(x.Slice(j, 8));
                (v * v).CopyTo(xSquared[j..]);
            }
        }

        for (; j < d; j++)
        {
            xSquared[j] = x[j] * x[j];
        }

        Kernel(model.Variances, model.Precision, model.PaddedCount, d, model.DenseSlots, xSquared, model.VarianceScales, model.BiasVariances, variances);
    }

    /// <summary>
    /// The plain scalar reference of <see cref="Score(in ModelView, ReadOnlySpan{float}, Span{float})"/>: one image at
    /// a time, in double precision. For int8 it applies the int8 rule written out on its own: the dense slots (of the
    /// model's schema) quantized to round(x_j · 127 / m) with m = max(1, their largest magnitude), the hashed slots rounded to integers (they
    /// are counts of ±1), the integer products summed exactly, then score_i = s_i · (m / 127 · dense sum + hashed
    /// sum) + b_i.
    /// </summary>
    public static void ScoreScalar(scoped in ModelView model, ReadOnlySpan<float> x, Span<float> scores)
    {
        var kp = model.PaddedCount;
        var d = model.Dimension;
        var precision = model.Precision;
        var int8 = precision == WeightPrecision.Int8;
        var denseSlots = model.DenseSlots;
        var denseScale = 1f;
        Span<float> features = stackalloc float[d];
        x[..d].CopyTo(features);
        if (int8)
        {
            var max = 1f;
            for (var j = 0; j < denseSlots; j++)
            {
                max = float.IsFinite(features[j]) && float.IsFinite(max) ? Math.Max(max, Math.Abs(features[j])) : float.NaN;
            }

            var usable = float.IsFinite(max);
            denseScale = usable ? max / 127f : 0f;
            for (var j = 0; j < d; j++)
            {
                features[j] = j < denseSlots
                    ? (usable ? MathF.Round(features[j] * (127f / max)) : 0f)
                    : float.IsNaN(features[j]) ? 0f : Math.Clamp(MathF.Round(features[j]), -127f, 127f);
            }
        }

        for (var i = 0; i < kp; i++)
        {
            double dense = 0, hashed = 0;
            for (var j = 0; j < d; j++)
            {
                var product = TitleModel.Dequantize(model.Weights, precision, ModelFormat.ElementIndex(precision, kp, j, i)) * (double)features[j];
                if (int8 && j < denseSlots)
                {
                    dense += product;
                }
                else
                {
                    hashed += product;
                }
            }

            var dot = int8 ? (dense * denseScale) + hashed : hashed;
            scores[i] = (float)((dot * model.WeightScales[i]) + model.Biases[i]);
        }
    }

    [SkipLocalsInit] // CopyTo writes the whole vector
    private static void ScoreDense(scoped in ModelView model, in SparseFeatures features, Span<float> scores)
    {
        Span<float> x = stackalloc float[model.Dimension];
        features.CopyTo(x);
        Score(model, x, scores);
    }

    /// <summary>Asks the CPU to start loading what a greedy selection will read of a blob (header, image table, weights).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(ReadOnlySpan<byte> blob, int bytes)
    {
        if (!Sse.IsSupported)
        {
            return;
        }

        bytes = Math.Min(bytes, blob.Length);
        fixed (byte* p = blob)
        {
            for (var offset = 0; offset < bytes; offset += 64)
            {
                Sse.Prefetch0(p + offset);
            }
        }
    }

    private static void Kernel(
        ReadOnlySpan<byte> section, WeightPrecision precision, int kp, int d, int denseSlots, ReadOnlySpan<float> x,
        ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> output)
    {
        if ((uint)x.Length < (uint)d || (uint)output.Length < (uint)kp || (uint)scale.Length < (uint)kp || (uint)bias.Length < (uint)kp
            || section.Length < ModelFormat.SectionSize(kp, d, precision))
        {
            ThrowSizes();
        }

        if (precision == WeightPrecision.Int8)
        {
            KernelInt8(section, kp, d, denseSlots, x, scale, bias, output);
            return;
        }

        fixed (byte* w = &MemoryMarshal.GetReference(section))
        fixed (float* xp = &MemoryMarshal.GetReference(x))
        fixed (float* sp = &MemoryMarshal.GetReference(scale))
        fixed (float* bp = &MemoryMarshal.GetReference(bias))
        fixed (float* op = &MemoryMarshal.GetReference(output))
        {
            var i = 0;
            if (Avx512F.IsSupported)
            {
                for (; i + 16 <= kp; i += 16)
                {
                    var dot = precision == WeightPrecision.Float32
                        ? Dot512F32((float*)w + i, kp, xp, d)
                        : Dot512BF16((ushort*)w + i, kp, xp, d);
                    Vector512.FusedMultiplyAdd(dot, Vector512.Load(sp + i), Vector512.Load(bp + i)).Store(op + i);
                }
            }

            if (Avx2.IsSupported && Fma.IsSupported)
            {
                for (; i + 8 <= kp; i += 8)
                {
                    var dot = precision == WeightPrecision.Float32
                        ? Dot256F32((float*)w + i, kp, xp, d)
                        : Dot256BF16((ushort*)w + i, kp, xp, d);
                    Fma.MultiplyAdd(dot, Vector256.Load(sp + i), Vector256.Load(bp + i)).Store(op + i);
                }
            }

            for (; i < kp; i++)
            {
                var sum = 0f;
                for (var j = 0; j < d; j++)
                {
                    var v = precision == WeightPrecision.Float32
                        ? ((float*)w)[(j * kp) + i]
                        : BitConverter.Int32BitsToSingle(((ushort*)w)[(j * kp) + i] << 16);
                    sum = MathF.FusedMultiplyAdd(v, xp[j], sum);
                }

                op[i] = MathF.FusedMultiplyAdd(sum, sp[i], bp[i]);
            }
        }
    }

    // Four independent accumulators hide the FMA latency (4 cycles) behind its throughput (2 per cycle). The row
    // pointer walks down the feature-major section (one row per feature), so no index is multiplied per step.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Dot512F32(float* col, int kp, float* x, int d)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        var row = col;
        var j = 0;
        for (; j + 4 <= d; j += 4, row += 4 * kp)
        {
            a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(row), Vector512.Create(x[j]), a0);
            a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(row + kp), Vector512.Create(x[j + 1]), a1);
            a2 = Avx512F.FusedMultiplyAdd(Vector512.Load(row + (2 * kp)), Vector512.Create(x[j + 2]), a2);
            a3 = Avx512F.FusedMultiplyAdd(Vector512.Load(row + (3 * kp)), Vector512.Create(x[j + 3]), a3);
        }

        for (; j < d; j++, row += kp)
        {
            a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(row), Vector512.Create(x[j]), a0);
        }

        return (a0 + a1) + (a2 + a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Dot512BF16(ushort* col, int kp, float* x, int d)
    {
        Vector512<float> a0 = default, a1 = default;
        var row = col;
        var j = 0;
        for (; j + 2 <= d; j += 2, row += 2 * kp)
        {
            a0 = Avx512F.FusedMultiplyAdd(WidenBF16(Vector256.Load(row)), Vector512.Create(x[j]), a0);
            a1 = Avx512F.FusedMultiplyAdd(WidenBF16(Vector256.Load(row + kp)), Vector512.Create(x[j + 1]), a1);
        }

        for (; j < d; j++, row += kp)
        {
            a0 = Avx512F.FusedMultiplyAdd(WidenBF16(Vector256.Load(row)), Vector512.Create(x[j]), a0);
        }

        return a0 + a1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Dot256F32(float* col, int kp, float* x, int d)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        var j = 0;
        for (; j + 4 <= d; j += 4)
        {
            a0 = Fma.MultiplyAdd(Vector256.Load(col + (j * kp)), Vector256.Create(x[j]), a0);
            a1 = Fma.MultiplyAdd(Vector256.Load(col + ((j + 1) * kp)), Vector256.Create(x[j + 1]), a1);
            a2 = Fma.MultiplyAdd(Vector256.Load(col + ((j + 2) * kp)), Vector256.Create(x[j + 2]), a2);
            a3 = Fma.MultiplyAdd(Vector256.Load(col + ((j + 3) * kp)), Vector256.Create(x[j + 3]), a3);
        }

        for (; j < d; j++)
        {
            a0 = Fma.MultiplyAdd(Vector256.Load(col + (j * kp)), Vector256.Create(x[j]), a0);
        }

        return (a0 + a1) + (a2 + a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Dot256BF16(ushort* col, int kp, float* x, int d)
    {
        Vector256<float> a0 = default, a1 = default;
        var j = 0;
        for (; j + 2 <= d; j += 2)
        {
            a0 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(col + (j * kp)), 16).AsSingle(), Vector256.Create(x[j]), a0);
            a1 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(col + ((j + 1) * kp)), 16).AsSingle(), Vector256.Create(x[j + 1]), a1);
        }

        for (; j < d; j++)
        {
            a0 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(col + (j * kp)), 16).AsSingle(), Vector256.Create(x[j]), a0);
        }

        return a0 + a1;
    }

    // bfloat16 is the top half of a float32: zero-extend each 16-bit lane to 32 bits and shift it into place.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> WidenBF16(Vector256<ushort> v) =>
        Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(v), 16).AsSingle();

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowSizes() =>
        throw new ArgumentException("scoring buffers are smaller than the model's padded image count or dimension");
}
