using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Scoring;

namespace EdgeSelector.Core.Tests;

public class ScorerTests
{
    [Theory]
    [InlineData(1, 28, WeightPrecision.Float32)]
    [InlineData(8, 32, WeightPrecision.Float32)]
    [InlineData(13, 64, WeightPrecision.Float32)]
    [InlineData(32, 64, WeightPrecision.Float32)]
    [InlineData(64, 128, WeightPrecision.Float32)]
    [InlineData(40, 37, WeightPrecision.BFloat16)]
    [InlineData(32, 64, WeightPrecision.BFloat16)]
    [InlineData(24, 33, WeightPrecision.Int8)]
    [InlineData(64, 128, WeightPrecision.Int8)]
    public void Score_Simd_EqualsScalarReference(int images, int dimension, WeightPrecision precision)
    {
        for (var seed = 0; seed < 20; seed++)
        {
            var blob = TestModels.Random(images, dimension, seed).Serialize(precision);
            Assert.True(ModelView.TryOpen(blob, ModelCheck.Full, out var view, out _));
            var x = new float[dimension];
            Assert.True(FeatureEncoder.TryEncode(view.FeatureSpace, TestModels.Member((ulong)seed, seed), TestModels.Title(), x));
            var simd = new float[view.PaddedCount];
            var scalar = new float[view.PaddedCount];
            Scorer.Score(view, x, simd);
            Scorer.ScoreScalar(view, x, scalar);
            for (var i = 0; i < images; i++)
            {
                var tolerance = 1e-5f * Math.Max(1f, Math.Abs(scalar[i]));
                Assert.True(Math.Abs(simd[i] - scalar[i]) <= tolerance, $"image {i}: {simd[i]} vs {scalar[i]}");
            }
        }
    }

    [Fact]
    public void Score_Float32_EqualsDotProductOfTheManagedModel()
    {
        var model = TestModels.Random(10, 64, seed: 11);
        var blob = model.Serialize();
        Assert.True(ModelView.TryOpen(blob, ModelCheck.Full, out var view, out _));
        var x = new float[64];
        for (var j = 0; j < x.Length; j++)
        {
            x[j] = (j % 7) - 3;
        }

        var scores = new float[view.PaddedCount];
        Scorer.Score(view, x, scores);
        for (var i = 0; i < model.Images.Count; i++)
        {
            double expected = model.Images[i].Bias;
            for (var j = 0; j < x.Length; j++)
            {
                expected += model.Images[i].Weights[j] * (double)x[j];
            }

            Assert.Equal(expected, scores[i], 4);
        }
    }

    [Fact]
    public void ScoreVariance_EqualsDiagonalQuadraticForm()
    {
        var model = TestModels.Random(9, 32, seed: 12);
        Assert.True(ModelView.TryOpen(model.Serialize(), ModelCheck.Full, out var view, out _));
        var x = new float[32];
        for (var j = 0; j < x.Length; j++)
        {
            x[j] = j * 0.1f;
        }

        var variances = new float[view.PaddedCount];
        Scorer.ScoreVariance(view, x, new float[32], variances);
        for (var i = 0; i < model.Images.Count; i++)
        {
            double expected = model.Images[i].BiasVariance;
            for (var j = 0; j < x.Length; j++)
            {
                expected += model.Images[i].Variances[j] * (double)x[j] * x[j];
            }

            Assert.Equal(expected, variances[i], 5);
        }
    }

    [Fact]
    public void Score_BuffersTooSmall_Throws()
    {
        Assert.True(ModelView.TryOpen(TestModels.Random(9, 32, seed: 1).Serialize(), ModelCheck.Full, out _, out _));
        Assert.Throws<ArgumentException>(() =>
        {
            ModelView.TryOpen(TestModels.Random(9, 32, seed: 1).Serialize(), ModelCheck.Full, out var view, out _);
            Scorer.Score(view, new float[32], new float[9]);
        });
    }
}
