using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeSelector.Core.Exploration;

/// <summary>
/// Greedy, ε-greedy and uniform choices made straight from one uniform u ∈ [0, 1), without writing a pmf: the
/// distribution is the one <see cref="Greedy.Pmf"/>, <see cref="EpsilonGreedy.Pmf"/> and <see cref="Uniform.Pmf"/>
/// write, and the propensity returned is exactly its mass on the chosen image (PolicyTests check both).
/// The mapping: ε-greedy exploits when u &lt; 1 − ε (u rescaled picks among exact ties) and otherwise takes the
/// uniform slot ⌊(u − (1 − ε))/ε · K⌋; greedy is ε = 0; uniform is ε = 1.
/// </summary>
public static class Direct
{
    /// <summary>Chooses an image for <paramref name="policy"/> (Greedy, EpsilonGreedy or Uniform) and returns its probability.</summary>
    public static int Choose(PolicyKind policy, ReadOnlySpan<float> scores, float epsilon, double u, out float propensity)
    {
        var k = scores.Length;
        double eps = policy switch
        {
            PolicyKind.Greedy => 0,
            PolicyKind.Uniform => 1,
            _ => float.IsFinite(epsilon) ? Math.Clamp(epsilon, 0f, 1f) : 0,
        };

        if (u < 1 - eps)
        {
            var (best, ties) = Argmax(scores);
            if (ties == 1 && eps == 0)
            {
                propensity = 1f; // greedy with one best image: the common case, without two divisions on its path
                return best;
            }

            var index = ties == 1 ? best : NthTied(scores, scores[best], Math.Min((int)(u / (1 - eps) * ties), ties - 1));
            propensity = (float)((eps / k) + ((1 - eps) / ties));
            return index;
        }

        var slot = Math.Min((int)((u - (1 - eps)) / eps * k), k - 1);
        if (eps >= 1)
        {
            propensity = 1f / k;
            return slot;
        }

        var (top, tied) = Argmax(scores);
        propensity = (float)((eps / k) + (scores[slot] == scores[top] ? (1 - eps) / tied : 0));
        return slot;
    }

    /// <summary>
    /// Index of the first largest score and how many scores equal it (a NaN score is never larger than another, as
    /// in the scalar loop). Eight lanes at a time: a max pass, then one compare per block whose mask gives the ties
    /// (popcount) and the first index (trailing zeros), with no data-dependent branch per score.
    /// </summary>
    public static (int Index, int Ties) Argmax(ReadOnlySpan<float> scores)
    {
        var n = scores.Length;
        if (!Vector256.IsHardwareAccelerated || n < Vector256<float>.Count)
        {
            return ArgmaxScalar(scores);
        }

        ref var first = ref MemoryMarshal.GetReference(scores);
        var tail = (nuint)(n - Vector256<float>.Count);
        var top = Vector256.LoadUnsafe(ref first, tail); // the last eight (overlapping is harmless for a max)
        var nan = ~Vector256.Equals(top, top);
        for (nuint i = 0; i < tail; i += (nuint)Vector256<float>.Count)
        {
            var v = Vector256.LoadUnsafe(ref first, i);
            top = Vector256.MaxNative(top, v);
            nan |= ~Vector256.Equals(v, v);
        }

        if (nan != Vector256<float>.Zero)
        {
            return ArgmaxScalar(scores); // the scalar loop defines what a NaN does
        }

        var half = Vector128.MaxNative(top.GetLower(), top.GetUpper());
        half = Vector128.MaxNative(half, Vector128.Shuffle(half, Vector128.Create(2, 3, 0, 1)));
        half = Vector128.MaxNative(half, Vector128.Shuffle(half, Vector128.Create(1, 0, 3, 2)));
        var max = Vector256.Create(half.ToScalar());

        var best = -1;
        var ties = 0;
        var j = 0;
        for (; j + Vector256<float>.Count <= n; j += Vector256<float>.Count)
        {
            var mask = Vector256.Equals(Vector256.LoadUnsafe(ref first, (nuint)j), max).ExtractMostSignificantBits();
            if (mask != 0)
            {
                best = best < 0 ? j + BitOperations.TrailingZeroCount(mask) : best;
                ties += BitOperations.PopCount(mask);
            }
        }

        for (; j < n; j++)
        {
            if (scores[j] == max[0])
            {
                best = best < 0 ? j : best;
                ties++;
            }
        }

        return (best, ties);
    }

    private static (int Index, int Ties) ArgmaxScalar(ReadOnlySpan<float> scores)
    {
        var best = 0;
        var ties = 1;
        var max = scores[0];
        for (var i = 1; i < scores.Length; i++)
        {
            var s = scores[i];
            if (s > max)
            {
                (max, best, ties) = (s, i, 1);
            }
            else if (s == max)
            {
                ties++;
            }
        }

        return (best, ties);
    }

    private static int NthTied(ReadOnlySpan<float> scores, float max, int n)
    {
        for (var i = 0; i < scores.Length; i++)
        {
            if (scores[i] == max && n-- == 0)
            {
                return i;
            }
        }

        return scores.IndexOf(max);
    }
}
