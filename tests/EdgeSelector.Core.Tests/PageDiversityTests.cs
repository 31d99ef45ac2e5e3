using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;

namespace EdgeSelector.Core.Tests;

/// <summary>The page policy (docs/learning.md, "Page-level diversity"): penalised scores, exact conditional propensities.</summary>
public class PageDiversityTests
{
    [Fact]
    public void Penalize_LowersEachScoreByThePenaltyPerTagSharedWithThePage()
    {
        var comedy = PageDiversity.TagBit("comedy");
        var romance = PageDiversity.TagBit("romance");
        Assert.NotEqual(comedy, romance); // the two tags of this test do not share a bit
        float[] scores = [0.30f, 0.25f, 0.20f];
        ulong[] masks = [comedy, romance, comedy | romance];
        var adjusted = new float[3];
        PageDiversity.Penalize(scores, masks, comedy | romance, 0.1f, adjusted);
        Assert.Equal([0.20f, 0.15f, 0.0f], adjusted, (a, b) => Math.Abs(a - b) < 1e-6f);

        PageDiversity.Penalize(scores, masks, 0, 0.1f, adjusted); // an empty page changes nothing
        Assert.Equal(scores, adjusted);
    }

    [Fact]
    public void GetTagMasks_FromTheBlobsTagTable_EqualsTheMaskOfEachImagesTags()
    {
        var model = TestModels.Random(12, 64, seed: 3);
        Assert.True(ModelView.TryOpen(model.Serialize(WeightPrecision.Int8), ModelCheck.Full, out var view, out _));
        var masks = new ulong[12];
        view.GetTagMasks(masks);
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal(PageDiversity.TagMask(model.Images[i].Tags), masks[i]);
            Assert.Equal(masks[i], view.GetTagMask(i));
        }
    }

    [Theory]
    [InlineData(PolicyKind.Greedy)]
    [InlineData(PolicyKind.EpsilonGreedy)]
    [InlineData(PolicyKind.Softmax)]
    [InlineData(PolicyKind.Thompson)]
    public void Select_InactivePage_DecidesExactlyAsWithoutOne(PolicyKind policy)
    {
        var engine = new SelectionEngine(new SelectionOptions { Policy = policy, Epsilon = 0.3f, Temperature = 0.02f, Seed = 5 });
        var blob = TestModels.Random(8, 64, seed: 2, weightScale: 0.005f).Serialize(WeightPrecision.Int8);
        Assert.True(ModelView.TryOpen(blob, ModelCheck.Full, out var view, out _));
        for (var m = 1; m <= 500; m++)
        {
            var page = new PageState(0f);
            var plain = engine.Select(view, TestModels.Member((ulong)m), TestModels.Title(), 0);
            var paged = engine.Select(view, TestModels.Member((ulong)m), TestModels.Title(), 0, default, ref page);
            Assert.Equal(plain, paged);
            Assert.Equal(0UL, page.Tags);
        }
    }

    [Theory]
    [InlineData(PolicyKind.EpsilonGreedy)]
    [InlineData(PolicyKind.Softmax)]
    [InlineData(PolicyKind.Thompson)]
    public void Select_OnAPage_LogsTheConditionalProbability_AndDrawsMatchIt(PolicyKind policy)
    {
        // The comedy images (even indices) score best; on a page that already shows a comedy image they lose 0.004 of
        // score each. Every
        // member faces the same conditional distribution (ids are not features); the logged propensity must be its
        // mass on the chosen image, and 100,000 sticky draws must reproduce it (chi-square, 0.1% critical value).
        var engine = new SelectionEngine(new SelectionOptions { Policy = policy, Epsilon = 0.3f, Temperature = 0.002f, Seed = 17 });
        var model = TestModels.Random(6, 64, seed: 9, weightScale: 0.0005f);
        for (var i = 0; i < model.Images.Count; i++)
        {
            model.Images[i].Bias = 0.05f + (i % 2 == 0 ? 0.003f : 0f) + (i * 0.0002f);
            model.Images[i].BiasVariance = 0.00002f;
        }

        Assert.True(ModelView.TryOpen(model.Serialize(), ModelCheck.Full, out var view, out _));
        var comedy = PageDiversity.TagBit("comedy");
        var pmf = new float[6];
        var probe = new PageState(0.004f) { Tags = comedy };
        engine.Select(view, TestModels.Member(0), TestModels.Title(), 0, pmf, ref probe);
        Assert.Equal(1f, pmf.Sum(), 4);
        var unpaged = new float[6];
        engine.Select(view, TestModels.Member(0), TestModels.Title(), 0, unpaged);
        Assert.True(pmf.Where((_, i) => i % 2 == 0).Sum() < unpaged.Where((_, i) => i % 2 == 0).Sum() - 0.05f, "the page moves mass off the comedy images");

        if (policy != PolicyKind.Thompson)
        {
            var reference = new float[6];
            var masks = new ulong[6];
            view.GetTagMasks(masks);
            var scores = new float[8];
            Scoring.Scorer.Score(view, Encode(view), scores);
            PageDiversity.Pmf(policy, policy == PolicyKind.Softmax ? 0.002f : 0.3f, scores.AsSpan(0, 6), masks, comedy, 0.004f, new float[6], reference);
            Assert.Equal(reference, pmf, (a, b) => Math.Abs(a - b) < 1e-6f);
        }

        const int Members = 100_000;
        var counts = new int[6];
        for (var m = 1; m <= Members; m++)
        {
            var page = new PageState(0.004f) { Tags = comedy };
            var decision = engine.Select(view, TestModels.Member((ulong)m), TestModels.Title(), 0, default, ref page);
            counts[decision.Index]++;
            Assert.Equal(pmf[decision.Index], decision.Propensity, 5);
            Assert.Equal(comedy | PageDiversity.TagMask(model.Images[decision.Index].Tags), page.Tags);
        }

        double chi2 = 0;
        var cells = 0;
        for (var i = 0; i < 6; i++)
        {
            var expected = pmf[i] * Members;
            if (expected < 1)
            {
                continue;
            }

            chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
            cells++;
        }

        double[] critical = [double.NaN, 10.83, 13.82, 16.27, 18.47, 20.52];
        Assert.True(cells >= 3, $"{cells} cells: the test needs a spread distribution");
        Assert.True(chi2 < critical[cells - 1], $"chi-square {chi2:F2} with {cells - 1} df; counts {string.Join(',', counts)}; pmf {string.Join(',', pmf)}");
    }

    [Fact]
    public void Select_OnAPage_10000Selections_AllocateNothing()
    {
        var engine = new SelectionEngine(new SelectionOptions { Policy = PolicyKind.EpsilonGreedy });
        var blob = TestModels.Random(32, 64, seed: 4).Serialize(WeightPrecision.Int8);
        Assert.True(ModelView.TryOpen(blob, ModelCheck.Full, out var view, out _));
        var member = TestModels.Member(1);
        var page = new PageState(0.01f);
        engine.Select(view, member, TestModels.Title(), 0, default, ref page);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            page = new PageState(0.01f) { Tags = (ulong)i * 0x9E3779B97F4A7C15 };
            member.MemberId = (ulong)i;
            engine.Select(view, member, TestModels.Title(), 0, default, ref page);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static SparseFeatures Encode(ModelView view)
    {
        Assert.True(FeatureEncoder.TryEncode(view.FeatureSpace, TestModels.Member(0), TestModels.Title(), out SparseFeatures features));
        return features;
    }
}
