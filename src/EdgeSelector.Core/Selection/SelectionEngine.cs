using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Scoring;

namespace EdgeSelector.Core.Selection;

/// <summary>
/// Picks one image of a title for a member: encode the context, score every candidate in place, explore with the
/// configured policy using the sticky draw of (member, title, window), and return the choice with its exact
/// propensity. Thread-safe and allocation-free (SelectionEngineTests counts the bytes of 10,000 selections).
/// </summary>
public sealed class SelectionEngine
{
    private readonly SelectionOptions _options;
    private readonly StickyRandom _random;

    /// <summary>Creates an engine; throws <see cref="ArgumentException"/> on invalid options.</summary>
    public SelectionEngine(SelectionOptions options)
    {
        _options = options.Validate();
        _random = new StickyRandom(options.Seed, options.StickinessWindow);
    }

    /// <summary>The options this engine was built with.</summary>
    public SelectionOptions Options => _options;

    /// <summary>The sticky randomness source (for tools that need to recompute a draw).</summary>
    public StickyRandom Random => _random;

    /// <summary>Selects an image; see the class summary.</summary>
    public Decision Select(scoped in ModelView model, in MemberContext member, in TitleContext title, long unixMs) =>
        Select(model, member, title, unixMs, default);

    /// <summary>
    /// Selects an image and, when <paramref name="distribution"/> is not empty (length at least K), writes the whole
    /// distribution the choice was drawn from (for Thompson sampling that costs K quadratures).
    /// </summary>
    public Decision Select(scoped in ModelView model, in MemberContext member, in TitleContext title, long unixMs, Span<float> distribution)
    {
        var noPage = default(PageState);
        return Select(model, member, title, unixMs, distribution, ref noPage);
    }

    /// <summary>
    /// Selects an image for one title of a page under the page policy (docs/learning.md, "Page-level diversity"): the
    /// scores are lowered by <see cref="PageState.Penalty"/> per tag shared with the images already on the page
    /// (<see cref="PageDiversity.Penalize"/>) before the policy explores, so the propensity is exactly the probability
    /// of this image given the page so far; the chosen image's tags are added to <paramref name="page"/>. With an
    /// inactive page this is the plain selection. <see cref="Decision.Score"/> is then the penalised score.
    /// </summary>
    public Decision Select(scoped in ModelView model, in MemberContext member, in TitleContext title, long unixMs, Span<float> distribution, ref PageState page)
    {
        // The sticky key is a long chain of dependent multiplies that nothing needs until the policy runs: computed
        // first, the CPU works through it while it encodes and scores. Greedy needs it only to break an exact tie,
        // so it computes it only then.
        var key = _options.Policy == PolicyKind.Greedy ? 0 : _random.Key(member.MemberId, title.TitleId, unixMs);
        if (!FeatureEncoder.TryEncode(model.FeatureSpace, member, title, out SparseFeatures features))
        {
            ThrowUnsupportedSpace();
        }

        return Decide(model, member.MemberId, title.TitleId, unixMs, key, features, distribution, ref page);
    }

    /// <summary>
    /// Selects an image for one title of a page as the overload above, with the member's part of the feature vector
    /// encoded once per page (#12.3): <paramref name="member"/> keeps it for the page's next titles whose models share
    /// the feature space, and only the title's slots are added per title. Decisions and propensities are bit for bit
    /// those of the overload above (SelectionEngineTests compares them over random contexts).
    /// </summary>
    public Decision Select(scoped in ModelView model, ref MemberFeatures member, in TitleContext title, long unixMs, Span<float> distribution, ref PageState page)
    {
        var memberId = member.Context.MemberId;
        var key = _options.Policy == PolicyKind.Greedy ? 0 : _random.Key(memberId, title.TitleId, unixMs);
        if (!FeatureEncoder.TryEncodeInPlace(model.FeatureSpace, ref member, title))
        {
            ThrowUnsupportedSpace();
        }

        return Decide(model, memberId, title.TitleId, unixMs, key, member.Features, distribution, ref page);
    }

    [System.Runtime.CompilerServices.SkipLocalsInit] // every scratch span is fully written before it is read
    private Decision Decide(scoped in ModelView model, ulong memberId, uint titleId, long unixMs, ulong key, in SparseFeatures features, Span<float> distribution, ref PageState page)
    {
        var k = model.ImageCount;
        var kp = model.PaddedCount;
        var d = model.Dimension;
        // One fixed-size frame for the scores and the pmf (a constant stackalloc needs no probing loop).
        Span<float> frame = stackalloc float[2 * ModelFormat.MaxImages];
        var scores = frame[..kp];
        var pmf = frame.Slice(ModelFormat.MaxImages, kp);
        var greedy = _options.Policy == PolicyKind.Greedy;

        Scorer.Score(model, features, scores);
        scores = scores[..k];
        pmf = pmf[..k];
        if (page.IsActive)
        {
            PenalizeForPage(model, scores, page); // page policy: off the path unless configured
        }

        int chosen;
        float propensity;
        switch (_options.Policy)
        {
            case PolicyKind.Thompson:
            case PolicyKind.Ucb:
                {
                    Span<float> std = stackalloc float[kp];
                    Span<float> x = stackalloc float[d];
                    Span<float> scratch = stackalloc float[Math.Max(d, Thompson.ScratchLength)];
                    features.CopyTo(x);
                    Scorer.ScoreVariance(model, x, scratch, std);
                    std = std[..k];
                    for (var i = 0; i < k; i++)
                    {
                        std[i] = MathF.Sqrt(Math.Max(std[i], Thompson.MinStdDev * Thompson.MinStdDev));
                    }

                    if (_options.Policy == PolicyKind.Ucb)
                    {
                        Ucb.Pmf(scores, std, _options.UcbAlpha, scratch, pmf);
                        chosen = Sampling.SampleIndex(pmf, StickyRandom.Uniform(key));
                        propensity = pmf[chosen];
                    }
                    else
                    {
                        chosen = Thompson.Sample(scores, std, key);
                        propensity = Thompson.Probability(scores, std, chosen, scratch);
                        if (!distribution.IsEmpty)
                        {
                            Thompson.Pmf(scores, std, scratch, pmf);
                        }
                    }

                    break;
                }

            case PolicyKind.Softmax:
                Softmax.Pmf(scores, _options.Temperature, pmf);
                chosen = Sampling.SampleIndex(pmf, StickyRandom.Uniform(key));
                propensity = pmf[chosen];
                break;

            default:
                // Greedy, ε-greedy and uniform choose straight from the sticky uniform (no pmf pass); the pmf is
                // written only when the caller asks for the distribution. Greedy with one best image needs no draw.
                var (best, ties) = greedy ? Direct.Argmax(scores) : (0, 0);
                if (greedy && ties == 1)
                {
                    (chosen, propensity) = (best, 1f);
                }
                else
                {
                    key = greedy ? _random.Key(memberId, titleId, unixMs) : key;
                    chosen = Direct.Choose(_options.Policy, scores, _options.Epsilon, StickyRandom.Uniform(key), out propensity);
                }

                if (!distribution.IsEmpty)
                {
                    switch (_options.Policy)
                    {
                        case PolicyKind.Greedy:
                            Greedy.Pmf(scores, pmf);
                            break;
                        case PolicyKind.EpsilonGreedy:
                            EpsilonGreedy.Pmf(scores, _options.Epsilon, pmf);
                            break;
                        default:
                            Uniform.Pmf(k, pmf);
                            break;
                    }
                }

                break;
        }

        if (!distribution.IsEmpty)
        {
            pmf.CopyTo(distribution);
        }

        if (page.IsActive)
        {
            page.Tags |= model.GetTagMask(chosen);
        }

        return new Decision
        {
            Index = chosen,
            ImageId = model.ImageIds[chosen],
            Propensity = propensity,
            Policy = _options.Policy,
            PolicyParameter = _options.PolicyParameter,
            ModelVersion = model.ModelVersion,
            Score = scores[chosen],
        };
    }

    // Kept out of Select so that its stack frame and the tag-table walk cost nothing when the page policy is off.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    [System.Runtime.CompilerServices.SkipLocalsInit] // GetTagMasks writes all K masks
    private static void PenalizeForPage(scoped in ModelView model, Span<float> scores, in PageState page)
    {
        Span<ulong> masks = stackalloc ulong[ModelFormat.MaxImages];
        model.GetTagMasks(masks);
        PageDiversity.Penalize(scores, masks[..scores.Length], page.Tags, page.Penalty, scores);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ThrowUnsupportedSpace() =>
        throw new InvalidOperationException("the model's feature space is not supported by this build");
}
