using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Core.Exploration;

/// <summary>One Gauss–Kronrod panel of the propensity integral: 15 nodes, 16 vector lanes (the last one idle).</summary>
public static partial class Thompson
{
    private const double InvSqrt2Pi = 0.398942280401432677939946059934;

    // The 15-point Kronrod rule and its embedded 7-point Gauss rule on [−1, 1] (QUADPACK's qk15), nodes in increasing
    // order and a 16th lane of weight zero. Gauss weights are zero on the nodes that only Kronrod uses.
    private static readonly double[] NodesD =
    [
        -0.991455371120812639206854697526329, -0.949107912342758524526189684047851, -0.864864423359769072789712788640926,
        -0.741531185599394439863864773280788, -0.586087235467691130294144845693013, -0.405845151377397166906606412076961,
        -0.207784955007898467600689403773245, 0.0, 0.207784955007898467600689403773245, 0.405845151377397166906606412076961,
        0.586087235467691130294144845693013, 0.741531185599394439863864773280788, 0.864864423359769072789712788640926,
        0.949107912342758524526189684047851, 0.991455371120812639206854697526329, 0.0,
    ];

    private static readonly double[] KronrodD =
    [
        0.022935322010529224963732008058970, 0.063092092629978553290700663189204, 0.104790010322250183839876322541518,
        0.140653259715525918745189590510238, 0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
        0.204432940075298892414161999234649, 0.209482141084727828012999174891714, 0.204432940075298892414161999234649,
        0.190350578064785409913256402421014, 0.169004726639267902826583426598550, 0.140653259715525918745189590510238,
        0.104790010322250183839876322541518, 0.063092092629978553290700663189204, 0.022935322010529224963732008058970, 0.0,
    ];

    private static readonly double[] GaussD =
    [
        0.0, 0.129484966168869693270611432679082, 0.0, 0.279705391489276667901467771423780, 0.0,
        0.381830050505118944950369775488975, 0.0, 0.417959183673469387755102040816327, 0.0,
        0.381830050505118944950369775488975, 0.0, 0.279705391489276667901467771423780, 0.0,
        0.129484966168869693270611432679082, 0.0, 0.0,
    ];

    private static readonly float[] Nodes = ToSingle(NodesD);
    private static readonly float[] Kronrod = ToSingle(KronrodD);
    private static readonly float[] Gauss = ToSingle(GaussD);

    // The rule's columns are read with LoadUnsafe (each array holds 16 floats): Vector256.Create(span) was left as a
    // call here on the AVX2 path (callgrind, with the JIT's perf map).
    // ∫ over [l, r] of φ(u)·Π_j Φ(a_j + b_j·u) by the 15-point Kronrod rule and by its 7-point Gauss rule; the integrand
    // at all 15 nodes in one 16-lane vector (two 8-lane vectors without AVX-512), one vector Φ per image. A factor
    // already at Φ(5.6) at the panel's left end is 1 to float precision on the whole panel and is skipped: most of
    // them on the panels right of the mode.
    private static (double Kronrod, double Gauss) Panel(ReadOnlySpan<float> a, ReadOnlySpan<float> b, float l, float r)
    {
        var half = 0.5f * (r - l);
        var mid = 0.5f * (l + r);
        if (Vector512.IsHardwareAccelerated)
        {
            var u = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(Nodes)), Vector512.Create(half), Vector512.Create(mid));
            var f = Normal.Pdf(u);
            for (var j = 0; j < a.Length; j++)
            {
                if (a[j] + (b[j] * l) < FactorIsOne)
                {
                    f *= Normal.Cdf(Vector512.FusedMultiplyAdd(u, Vector512.Create(b[j]), Vector512.Create(a[j])));
                }
            }

            return (half * (double)Vector512.Sum(f * Vector512.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(Kronrod))),
                half * (double)Vector512.Sum(f * Vector512.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(Gauss))));
        }

        if (Vector256.IsHardwareAccelerated)
        {
            var h = Vector256.Create(half);
            var c = Vector256.Create(mid);
            var u0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(Nodes)), h, c);
            var u1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(Nodes), 8), h, c);
            var f0 = Normal.Pdf(u0);
            var f1 = Normal.Pdf(u1);
            for (var j = 0; j < a.Length; j++)
            {
                if (a[j] + (b[j] * l) >= FactorIsOne)
                {
                    continue;
                }

                var bj = Vector256.Create(b[j]);
                var aj = Vector256.Create(a[j]);
                f0 *= Normal.Cdf(Vector256.FusedMultiplyAdd(u0, bj, aj));
                f1 *= Normal.Cdf(Vector256.FusedMultiplyAdd(u1, bj, aj));
            }

            var kronrod = (f0 * Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(Kronrod))) + (f1 * Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(Kronrod), 8));
            var gauss = (f0 * Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(Gauss))) + (f1 * Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(Gauss), 8));
            return (half * (double)Vector256.Sum(kronrod), half * (double)Vector256.Sum(gauss));
        }

        return PanelScalar(a, b, l, r);
    }

    // The same panel one node at a time in double precision (the reference the vector path is tested against).
    private static (double Kronrod, double Gauss) PanelScalar(ReadOnlySpan<float> a, ReadOnlySpan<float> b, float l, float r)
    {
        var half = 0.5 * ((double)r - l);
        var mid = 0.5 * ((double)l + r);
        double kronrod = 0, gauss = 0;
        for (var n = 0; n < 15; n++)
        {
            var u = mid + (half * NodesD[n]);
            var f = Math.Exp(-0.5 * u * u) * InvSqrt2Pi;
            for (var j = 0; j < a.Length; j++)
            {
                if (a[j] + (b[j] * l) < FactorIsOne)
                {
                    f *= Normal.Cdf(a[j] + (b[j] * u));
                }
            }

            kronrod += KronrodD[n] * f;
            gauss += GaussD[n] * f;
        }

        return (half * kronrod, half * gauss);
    }

    private static float[] ToSingle(double[] values) => Array.ConvertAll(values, v => (float)v);
}
