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

    [Theory]
    [InlineData(8, 32, WeightPrecision.Int8)]
    [InlineData(13, 64, WeightPrecision.Int8)]
    [InlineData(32, 64, WeightPrecision.Int8)]
    [InlineData(64, 128, WeightPrecision.Int8)]
    [InlineData(24, 30, WeightPrecision.Int8)]
    [InlineData(16, 44, WeightPrecision.Int8)]
    [InlineData(32, 64, WeightPrecision.Int8, FeatureSpace.Schema1)]
    [InlineData(32, 64, WeightPrecision.Float32)]
    [InlineData(40, 37, WeightPrecision.BFloat16)]
    public void Score_SparseForm_EqualsTheDenseVectorAndTheReference(int images, int dimension, WeightPrecision precision, ushort schema = 0)
    {
        for (var seed = 0; seed < 50; seed++)
        {
            var blob = TestModels.Random(images, dimension, seed, schema: schema).Serialize(precision);
            Assert.True(ModelView.TryOpen(blob, ModelCheck.Full, out var view, out _));
            var member = TestModels.Member((ulong)seed, seed);
            member.Device = (DeviceClass)(seed % 6);
            member.LocalHour = (byte)(seed % 24);

            // Every third request is for a title the member interacted with: schema 2's genre × interacted groups
            // are then non-zero (and skipped by the int8 kernel otherwise).
            var title = TestModels.Title() with { Interacted = seed % 3 == 0 };
            Assert.True(FeatureEncoder.TryEncode(view.FeatureSpace, member, title, out SparseFeatures sparse));
            var x = new float[dimension];
            Assert.True(FeatureEncoder.TryEncode(view.FeatureSpace, member, title, x));
            var fromSparse = new float[view.PaddedCount];
            var fromDense = new float[view.PaddedCount];
            var reference = new float[view.PaddedCount];
            Scorer.Score(view, sparse, fromSparse);
            Scorer.Score(view, x, fromDense);
            Scorer.ScoreScalar(view, x, reference);
            for (var i = 0; i < images; i++)
            {
                var tolerance = 1e-5f * Math.Max(1f, Math.Abs(reference[i]));
                Assert.True(Math.Abs(fromSparse[i] - fromDense[i]) <= tolerance, $"seed {seed} image {i}: sparse {fromSparse[i]} vs dense {fromDense[i]}");
                Assert.True(Math.Abs(fromSparse[i] - reference[i]) <= tolerance, $"seed {seed} image {i}: sparse {fromSparse[i]} vs reference {reference[i]}");
            }
        }
    }

    [Fact]
    public void ScoreInt8_ZeroDenseSlots_ScoresTheHashedFeaturesExactly()
    {
        // With every dense slot zero the dense scale is 0 and only the hashed counts remain: the score is then
        // s_i · Σ_f sign_f · q[slot_f, i] + b_i, which this test recomputes from the stored bytes.
        var model = TestModels.Random(16, 64, seed: 3);
        Assert.True(ModelView.TryOpen(model.Serialize(WeightPrecision.Int8), ModelCheck.Full, out var view, out _));
        var member = TestModels.Member(1);
        for (var g = 0; g < MemberProfile.GenreCount; g++)
        {
            member.Genres[g] = 0f;
        }

        var title = new TitleContext { TitleId = 42, RecommenderScore = 0f, Interacted = false };
        member.LocalHour = 0; // sin 0 = 0, but cos 0 = 1: the dense part is not all zero unless the hour slot is
        Assert.True(FeatureEncoder.TryEncode(view.FeatureSpace, member, title, out SparseFeatures sparse));
        sparse.Dense[FeatureEncoder.HourSlot + 1] = 0f;
        var scores = new float[view.PaddedCount];
        Scorer.Score(view, sparse, scores);
        for (var i = 0; i < 16; i++)
        {
            var sum = 0;
            for (var f = 0; f < SparseFeatures.HashedCount; f++)
            {
                var j = sparse.Slots[f];
                sum += sparse.Signs[f] * (view.Weights[(((j / 4) * view.PaddedCount) + i) * 4 + (j % 4)] - 128);
            }

            Assert.Equal((sum * view.WeightScales[i]) + view.Biases[i], scores[i], 5);
        }
    }

    [Theory]
    [InlineData(44)]
    [InlineData(64)]
    [InlineData(75)]
    [InlineData(128)]
    public void ScoreInt8_HashedSlotsNotIntegers_RoundAsTheScalarReference(int dimension)
    {
        // The dense-vector int8 path (the variance's x² takes it) rounds the hashed slots to even, clamps them to ±127
        // and reads NaN as 0, sixteen or eight at a time; the reference applies the rule one slot at a time.
        var rng = new Random(dimension);
        var blob = TestModels.Random(32, dimension, seed: 5).Serialize(WeightPrecision.Int8);
        Assert.True(ModelView.TryOpen(blob, ModelCheck.Full, out var view, out _));
        float[] awkward = [0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 126.5f, 127.5f, -127.5f, 300f, -300f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0.49999997f];
        for (var trial = 0; trial < 50; trial++)
        {
            var x = new float[dimension];
            for (var j = 0; j < dimension; j++)
            {
                x[j] = j < view.DenseSlots ? (float)rng.NextDouble() : rng.Next(3) == 0 ? awkward[rng.Next(awkward.Length)] : (float)((rng.NextDouble() - 0.5) * 20);
            }

            var simd = new float[view.PaddedCount];
            var scalar = new float[view.PaddedCount];
            Scorer.Score(view, x, simd);
            Scorer.ScoreScalar(view, x, scalar);
            for (var i = 0; i < 32; i++)
            {
                Assert.True(Math.Abs(simd[i] - scalar[i]) <= 1e-5f * Math.Max(1f, Math.Abs(scalar[i])), $"d={dimension}, image {i}: {simd[i]} vs {scalar[i]}");
            }
        }
    }

    [Theory]
    [InlineData(64)] // past the dimension
    [InlineData(5)]  // a dense slot
    public void ScoreInt8_SparseFormWithABadHashedSlot_IsRefused(int slot)
    {
        Assert.True(ModelView.TryOpen(TestModels.Random(16, 64, seed: 4).Serialize(WeightPrecision.Int8), ModelCheck.Full, out _, out _));
        Assert.Throws<ArgumentException>(() =>
        {
            ModelView.TryOpen(TestModels.Random(16, 64, seed: 4).Serialize(WeightPrecision.Int8), ModelCheck.Full, out var view, out _);
            FeatureEncoder.TryEncode(view.FeatureSpace, TestModels.Member(1), TestModels.Title(), out SparseFeatures features);
            features.Slots[3] = slot;
            Scorer.Score(view, features, new float[view.PaddedCount]);
        });
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
