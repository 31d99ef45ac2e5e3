using System.Numerics;
using System.Runtime.CompilerServices;

namespace EdgeSelector.Core.Exploration;

/// <summary>
/// The page policy (docs/learning.md, "Page-level diversity"): a page's titles are decided in page order, and each
/// title's scores are first lowered by <c>penalty</c> for every tag its image shares with the images already chosen
/// for the page, then explored by the engine's policy as usual. So title i is drawn from π(· | x_i, tags already on the
/// page), and the propensity logged for it is exactly that conditional probability (sequential conditional sampling):
/// per-title off-policy estimates stay unbiased. Pure functions over caller-owned spans, no allocation.
/// </summary>
/// <remarks>
/// Tags become bits of a 64-bit mask (<see cref="TagBit(ReadOnlySpan{byte})"/>: FNV-1a, top six bits pick the bit), so
/// "shares a tag" is one AND and a popcount. Two different tags may share a bit (1 in 64): the policy is then defined
/// on the bits, and the propensities stay exact for the policy it is.
/// </remarks>
public static class PageDiversity
{
    private const ulong FnvOffset = 0xCBF29CE484222325;
    private const ulong FnvPrime = 0x100000001B3;

    /// <summary>The bit of a tag (UTF-8 bytes) in a 64-bit tag mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong TagBit(ReadOnlySpan<byte> utf8Tag)
    {
        var h = FnvOffset;
        foreach (var b in utf8Tag)
        {
            h = (h ^ b) * FnvPrime;
        }

        return 1UL << (int)(h >> 58);
    }

    /// <summary>The bit of a tag in a 64-bit tag mask (tools and tests; allocates for the UTF-8 bytes).</summary>
    public static ulong TagBit(string tag) => TagBit(System.Text.Encoding.UTF8.GetBytes(tag));

    /// <summary>The mask of several tags (tools and tests).</summary>
    public static ulong TagMask(IEnumerable<string> tags)
    {
        ulong mask = 0;
        foreach (var tag in tags)
        {
            mask |= TagBit(tag);
        }

        return mask;
    }

    /// <summary>
    /// Writes the page-adjusted scores: <c>adjusted_i = scores_i − penalty · popcount(masks_i ∧ pageTags)</c>.
    /// <paramref name="adjusted"/> may be <paramref name="scores"/> itself. A penalty of 0 (or an empty page) copies.
    /// </summary>
    public static void Penalize(ReadOnlySpan<float> scores, ReadOnlySpan<ulong> masks, ulong pageTags, float penalty, Span<float> adjusted)
    {
        penalty = float.IsFinite(penalty) ? Math.Max(penalty, 0f) : 0f;
        for (var i = 0; i < scores.Length; i++)
        {
            adjusted[i] = scores[i] - (penalty * BitOperations.PopCount(masks[i] & pageTags));
        }
    }

    /// <summary>
    /// The page policy's distribution for one title: <paramref name="policy"/> (greedy, ε-greedy, softmax or uniform,
    /// with its parameter ε or T) over the penalised scores. <paramref name="scratch"/> holds the penalised scores
    /// (length K). The engine computes the same (with Thompson sampling and UCB too) in <c>SelectionEngine.Select</c>
    /// with a <c>PageState</c>.
    /// </summary>
    public static void Pmf(
        PolicyKind policy, float parameter, ReadOnlySpan<float> scores, ReadOnlySpan<ulong> masks, ulong pageTags, float penalty,
        Span<float> scratch, Span<float> pmf)
    {
        var adjusted = scratch[..scores.Length];
        Penalize(scores, masks, pageTags, penalty, adjusted);
        switch (policy)
        {
            case PolicyKind.Greedy:
                Greedy.Pmf(adjusted, pmf);
                break;
            case PolicyKind.EpsilonGreedy:
                EpsilonGreedy.Pmf(adjusted, parameter, pmf);
                break;
            case PolicyKind.Softmax:
                Softmax.Pmf(adjusted, parameter, pmf);
                break;
            case PolicyKind.Uniform:
                Uniform.Pmf(scores.Length, pmf);
                break;
            default:
                throw new ArgumentException($"PageDiversity.Pmf takes greedy, epsilon-greedy, softmax or uniform; {policy} needs the engine (posterior variances)", nameof(policy));
        }
    }
}
