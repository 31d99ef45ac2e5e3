using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeSelector.Core.Models;

namespace EdgeSelector.Core.Scoring;

/// <summary>
/// Scores every candidate of a model: score_i = scale_i · Σ_j W[j, i] · x_j + b_i, over the feature-major weight
/// section, so that one broadcast x_j multiplies a whole row of images and the scores come out as vectors with no
/// horizontal sums. Cascades Vector512 → Vector256 → scalar; <see cref="ScoreScalar"/> is the reference the tests
/// compare against (also with DOTNET_EnableHWIntrinsic=0). Allocation-free.
/// </summary>
public static unsafe class Scorer
{
    /// <summary>
    /// Writes the mean score of every image into <paramref name="scores"/> (length at least
    /// <see cref="ModelView.PaddedCount"/>; lanes past <see cref="ModelView.ImageCount"/> are padding).
    /// </summary>
    public static void Score(scoped in ModelView model, ReadOnlySpan<float> x, Span<float> scores) =>
        Kernel(model.Weights, model.Precision, model.PaddedCount, model.Dimension, x, model.WeightScales, model.Biases, scores);

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

        for (var j = 0; j < d; j++)
        {
            xSquared[j] = x[j] * x[j];
        }

        Kernel(model.Variances, model.Precision, model.PaddedCount, d, xSquared, model.VarianceScales, model.BiasVariances, variances);
    }

    /// <summary>The plain scalar reference of <see cref="Score"/>: one image at a time, in double precision.</summary>
    public static void ScoreScalar(scoped in ModelView model, ReadOnlySpan<float> x, Span<float> scores)
    {
        var kp = model.PaddedCount;
        for (var i = 0; i < kp; i++)
        {
            double sum = 0;
            for (var j = 0; j < model.Dimension; j++)
            {
                sum += TitleModel.Dequantize(model.Weights, model.Precision, (j * kp) + i) * (double)x[j];
            }

            scores[i] = (float)((sum * model.WeightScales[i]) + model.Biases[i]);
        }
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
        ReadOnlySpan<byte> section, WeightPrecision precision, int kp, int d, ReadOnlySpan<float> x,
        ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> output)
    {
        if ((uint)x.Length < (uint)d || (uint)output.Length < (uint)kp || (uint)scale.Length < (uint)kp || (uint)bias.Length < (uint)kp
            || section.Length < ModelFormat.SectionSize(kp, d, precision))
        {
            ThrowSizes();
        }

        fixed (byte* w = section)
        fixed (float* xp = x)
        fixed (float* sp = scale)
        fixed (float* bp = bias)
        fixed (float* op = output)
        {
            var i = 0;
            if (Avx512F.IsSupported)
            {
                for (; i + 16 <= kp; i += 16)
                {
                    var dot = precision switch
                    {
                        WeightPrecision.Float32 => Dot512F32((float*)w + i, kp, xp, d),
                        WeightPrecision.BFloat16 => Dot512BF16((ushort*)w + i, kp, xp, d),
                        _ => Dot512I8((sbyte*)w + i, kp, xp, d),
                    };
                    Vector512.FusedMultiplyAdd(dot, Vector512.Load(sp + i), Vector512.Load(bp + i)).Store(op + i);
                }
            }

            if (Avx2.IsSupported && Fma.IsSupported)
            {
                for (; i + 8 <= kp; i += 8)
                {
                    var dot = precision switch
                    {
                        WeightPrecision.Float32 => Dot256F32((float*)w + i, kp, xp, d),
                        WeightPrecision.BFloat16 => Dot256BF16((ushort*)w + i, kp, xp, d),
                        _ => Dot256I8((sbyte*)w + i, kp, xp, d),
                    };
                    Fma.MultiplyAdd(dot, Vector256.Load(sp + i), Vector256.Load(bp + i)).Store(op + i);
                }
            }

            for (; i < kp; i++)
            {
                var sum = 0f;
                for (var j = 0; j < d; j++)
                {
                    var v = precision switch
                    {
                        WeightPrecision.Float32 => ((float*)w)[(j * kp) + i],
                        WeightPrecision.BFloat16 => BitConverter.Int32BitsToSingle(((ushort*)w)[(j * kp) + i] << 16),
                        _ => ((sbyte*)w)[(j * kp) + i],
                    };
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
    private static Vector512<float> Dot512I8(sbyte* col, int kp, float* x, int d)
    {
        Vector512<float> a0 = default, a1 = default;
        var row = col;
        var j = 0;
        for (; j + 2 <= d; j += 2, row += 2 * kp)
        {
            a0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(row))), Vector512.Create(x[j]), a0);
            a1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(row + kp))), Vector512.Create(x[j + 1]), a1);
        }

        for (; j < d; j++, row += kp)
        {
            a0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(row))), Vector512.Create(x[j]), a0);
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Dot256I8(sbyte* col, int kp, float* x, int d)
    {
        Vector256<float> a0 = default, a1 = default;
        var j = 0;
        for (; j + 2 <= d; j += 2)
        {
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(col + (j * kp))), Vector256.Create(x[j]), a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(col + ((j + 1) * kp))), Vector256.Create(x[j + 1]), a1);
        }

        for (; j < d; j++)
        {
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(col + (j * kp))), Vector256.Create(x[j]), a0);
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
