using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;

namespace EdgeSelector.Core.Tests;

public class PolicyTests
{
    public static TheoryData<PolicyKind> AllPolicies() =>
        [PolicyKind.Greedy, PolicyKind.EpsilonGreedy, PolicyKind.Softmax, PolicyKind.Thompson, PolicyKind.Ucb, PolicyKind.Uniform];

    [Theory]
    [MemberData(nameof(AllPolicies))]
    public void Select_Distribution_SumsToOneAndHoldsThePropensity(PolicyKind policy)
    {
        var engine = new SelectionEngine(new SelectionOptions { Policy = policy, Epsilon = 0.2f, Temperature = 0.02f });
        for (var seed = 0; seed < 10; seed++)
        {
            var blob = TestModels.Random(12, 64, seed, weightScale: 0.01f).Serialize();
            Assert.True(ModelView.TryOpen(blob, ModelCheck.Structure, out var view, out _));
            var pmf = new float[12];
            var decision = engine.Select(view, TestModels.Member((ulong)seed), TestModels.Title(), 1_700_000_000_000, pmf);
            var tolerance = policy == PolicyKind.Thompson ? 2e-3 : 1e-5;
            Assert.Equal(1.0, pmf.Sum(p => (double)p), tolerance);
            Assert.All(pmf, p => Assert.InRange(p, 0f, 1f));
            Assert.Equal(pmf[decision.Index], decision.Propensity, 6);
            Assert.True(decision.Propensity > 0);
            Assert.Equal(view.ImageIds[decision.Index], decision.ImageId);
            Assert.Equal(7ul, decision.ModelVersion);
        }
    }

    [Fact]
    public void Argmax_Vectorised_MatchesAPlainLoop_WithTiesAndNaN()
    {
        var rng = new Random(4);
        for (var trial = 0; trial < 2000; trial++)
        {
            var scores = new float[1 + rng.Next(70)];
            for (var i = 0; i < scores.Length; i++)
            {
                scores[i] = rng.Next(5) * 0.25f; // few distinct values: many ties
            }

            if (trial % 7 == 0)
            {
                scores[rng.Next(scores.Length)] = float.NaN;
            }

            // The definition: the first index of the largest score (NaN never larger), and how many equal it.
            var best = 0;
            var ties = 1;
            for (var i = 1; i < scores.Length; i++)
            {
                if (scores[i] > scores[best])
                {
                    (best, ties) = (i, 1);
                }
                else if (scores[i] == scores[best])
                {
                    ties++;
                }
            }

            Assert.Equal((best, ties), Direct.Argmax(scores));
        }
    }

    [Fact]
    public void Greedy_Ties_ShareTheMassEvenly()
    {
        var pmf = new float[4];
        Assert.Equal(2, Greedy.Pmf([1f, 3f, 3f, 2f], pmf));
        Assert.Equal([0f, 0.5f, 0.5f, 0f], pmf);
    }

    [Fact]
    public void EpsilonGreedy_PutsEpsilonOverKOnEveryImage()
    {
        var pmf = new float[4];
        EpsilonGreedy.Pmf([1f, 3f, 0f, 2f], 0.2f, pmf);
        Assert.Equal([0.05f, 0.85f, 0.05f, 0.05f], pmf);
    }

    [Fact]
    public void Softmax_MatchesTheClosedForm()
    {
        float[] scores = [0.1f, 0.2f, 0.15f, -0.3f, 0.05f, 0.12f, 0.3f, 0.0f, 0.22f];
        var pmf = new float[scores.Length];
        Softmax.Pmf(scores, 0.1f, pmf);
        var z = scores.Sum(s => Math.Exp(s / 0.1));
        for (var i = 0; i < scores.Length; i++)
        {
            Assert.Equal(Math.Exp(scores[i] / 0.1) / z, pmf[i], 5);
        }
    }

    public static TheoryData<float[], float[]> ThompsonCases() => new()
    {
        // One wide (cold) arm against sharp ones.
        { [0.10f, 0.12f, 0.05f, 0.11f, 0.02f], [0.01f, 0.02f, 0.10f, 0.005f, 0.03f] },
        // Small probabilities: arms far below the leader live in their upper tails.
        { [0.30f, 0.20f, 0.25f, 0.10f, 0.28f, 0.05f], [0.03f, 0.03f, 0.02f, 0.05f, 0.01f, 0.04f] },
    };

    [Theory]
    [MemberData(nameof(ThompsonCases))]
    public void Thompson_Probability_MatchesMonteCarlo(float[] means, float[] stds)
    {
        var rng = new Random(17);
        const int Draws = 2_000_000;
        var counts = new int[means.Length];
        for (var n = 0; n < Draws; n++)
        {
            var best = 0;
            var bestValue = double.NegativeInfinity;
            for (var i = 0; i < means.Length; i++)
            {
                var v = means[i] + (stds[i] * Numerics.Normal.InverseCdf(rng.NextDouble()));
                if (v > bestValue)
                {
                    (best, bestValue) = (i, v);
                }
            }

            counts[best]++;
        }

        var scratch = new float[Thompson.ScratchLength];
        for (var i = 0; i < means.Length; i++)
        {
            var p = Thompson.Probability(means, stds, i, scratch);
            var mc = counts[i] / (double)Draws;
            var standardError = Math.Sqrt(mc * (1 - mc) / Draws);
            Assert.True(Math.Abs(p - mc) < 2e-4 + (4 * standardError), $"image {i}: quadrature {p}, Monte Carlo {mc}");
        }
    }

    [Theory]
    [MemberData(nameof(AllPolicies))]
    public void Select_200kMembers_EmpiricalFrequenciesMatchPropensities(PolicyKind policy)
    {
        // Members differ only in id, which is not a feature: every member faces the same distribution, and the
        // sticky draws over 200,000 ids must reproduce it (chi-square, 0.1% critical value, fixed seed).
        var engine = new SelectionEngine(new SelectionOptions { Policy = policy, Epsilon = 0.3f, Temperature = 0.02f, Seed = 99 });
        var model = TestModels.Random(8, 32, seed: 5, weightScale: 0.005f);
        foreach (var image in model.Images)
        {
            image.BiasVariance = 0.0004f;
        }

        var blob = model.Serialize();
        Assert.True(ModelView.TryOpen(blob, ModelCheck.Full, out var view, out _));
        var pmf = new float[8];
        engine.Select(view, TestModels.Member(0), TestModels.Title(), 0, pmf);
        const int Members = 200_000;
        var counts = new int[8];
        for (var m = 1; m <= Members; m++)
        {
            var decision = engine.Select(view, TestModels.Member((ulong)m), TestModels.Title(), 0);
            counts[decision.Index]++;
            Assert.Equal(pmf[decision.Index], decision.Propensity, 5);
        }

        double chi2 = 0;
        var cells = 0;
        for (var i = 0; i < 8; i++)
        {
            var expected = pmf[i] * Members;
            if (expected == 0)
            {
                Assert.Equal(0, counts[i]);
                continue;
            }

            chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
            cells++;
        }

        if (cells == 1)
        {
            Assert.Equal(0.0, chi2); // a deterministic policy: every draw on its one image
            return;
        }

        // Critical values of chi-square at p = 0.001 for 1..7 degrees of freedom.
        double[] critical = [double.NaN, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32];
        Assert.True(chi2 < critical[cells - 1], $"chi-square {chi2:F2} with {cells - 1} df; counts {string.Join(',', counts)}; pmf {string.Join(',', pmf)}");
    }
}
