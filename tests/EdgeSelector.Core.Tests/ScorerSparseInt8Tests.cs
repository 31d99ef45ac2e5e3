using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Scoring;

namespace EdgeSelector.Core.Tests;

/// <summary>
/// The int8 kernels that score the encoder's sparse form (AVX-VNNI, AVX2 without it: CI runs this suite again with
/// DOTNET_EnableAVXVNNI=0, and with DOTNET_EnableHWIntrinsic=0 for the scalar one) against the dense vector that the
/// materialized path builds: the dense slots, and each hashed feature added to its slot with the count clamped to ±127
/// after each one. Scoring that vector goes through the dense-vector int8 path (the integer sums DotGroups takes), so
/// the scores must agree bit for bit.
/// </summary>
public class ScorerSparseInt8Tests
{
    /// <summary>Schema 1 at d = 32 and 64; schema 2 (36 dense slots) at its smallest d (two hashed groups), 64 and 128.</summary>
    public static TheoryData<int, ushort> Shapes() => new()
    {
        { 32, FeatureSpace.Schema1 },
        { 64, FeatureSpace.Schema1 },
        { 44, FeatureSpace.Schema2 },
        { 64, FeatureSpace.Schema2 },
        { 128, FeatureSpace.Schema2 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Score_RandomHashedFeatures_EqualsTheMaterializedVectorBitForBit(int dimension, ushort schema)
    {
        var rng = new Random((dimension * 7) + schema);
        for (var images = 1; images <= 40; images++)
        {
            Assert.True(ModelView.TryOpen(Blob(images, dimension, schema), ModelCheck.Full, out var view, out _));
            var (actual, expected, x) = (new float[view.PaddedCount], new float[view.PaddedCount], new float[dimension]);
            for (var trial = 0; trial < 16; trial++)
            {
                var features = Encode(view, rng, trial);
                if (trial != 0) // trial 0 keeps the encoder's own features
                {
                    for (var f = 0; f < SparseFeatures.HashedCount; f++)
                    {
                        features.Slots[f] = RandomSlot(rng, features.DenseCount, dimension, features.Slots[0]);
                        features.Signs[f] = RandomSign(rng);
                    }
                }

                AssertSameScores(view, features, x, actual, expected, $"K={images} d={dimension} schema {schema} trial {trial}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Score_EveryHashedSlot_EqualsTheMaterializedVectorBitForBit(int dimension, ushort schema)
    {
        // Each slot of the hashed part with its mirror (the first with the last, …), four features on each, so the
        // ends of the range and duplicates whose running count passes ±127 (and comes back) are all scored.
        var rng = new Random(dimension + schema);
        foreach (var images in (int[])[1, 7, 8, 9, 16, 17, 33, 40])
        {
            Assert.True(ModelView.TryOpen(Blob(images, dimension, schema), ModelCheck.Full, out var view, out _));
            var (actual, expected, x) = (new float[view.PaddedCount], new float[view.PaddedCount], new float[dimension]);
            var denseCount = FeatureEncoder.DenseSlotCount(schema);
            for (var slot = denseCount; slot < dimension; slot++)
            {
                var features = Encode(view, rng, slot);
                for (var f = 0; f < SparseFeatures.HashedCount; f++)
                {
                    features.Slots[f] = f % 2 == 0 ? slot : denseCount + dimension - 1 - slot;
                    features.Signs[f] = f < 4 ? 127 : rng.Next(3) switch { 0 => -127, 1 => -1, _ => 126 };
                }

                AssertSameScores(view, features, x, actual, expected, $"K={images} d={dimension} schema {schema} slot {slot}");
            }
        }
    }

    [Theory]
    [InlineData(128)]
    [InlineData(-128)]
    [InlineData(int.MaxValue)]
    [InlineData(int.MinValue)]
    public void ScoreInt8_SparseFormWithASignPast127_IsRefused(int sign)
    {
        var blob = Blob(16, 64, FeatureSpace.Schema2);
        Assert.Throws<ArgumentException>(() =>
        {
            ModelView.TryOpen(blob, ModelCheck.Full, out var view, out _);
            var features = Encode(view, new Random(1), 0);
            features.Signs[5] = sign;
            Scorer.Score(view, features, new float[view.PaddedCount]);
        });
    }

    [Theory]
    [InlineData(FeatureSpace.Schema1)]
    [InlineData(FeatureSpace.Schema2)]
    public void ScoreInt8_SparseFormWithTheLastDenseSlot_IsRefused(ushort schema)
    {
        var blob = Blob(16, 64, schema);
        Assert.Throws<ArgumentException>(() =>
        {
            ModelView.TryOpen(blob, ModelCheck.Full, out var view, out _);
            var features = Encode(view, new Random(2), 0);
            features.Slots[7] = features.DenseCount - 1;
            Scorer.Score(view, features, new float[view.PaddedCount]);
        });
    }

    private static byte[] Blob(int images, int dimension, ushort schema) =>
        TestModels.Random(images, dimension, seed: images, schema: schema).Serialize(WeightPrecision.Int8);

    // The encoder's features for a random member; some trials with a dense slot past ±1 (the quantizer's scalar form,
    // m > 1) or NaN (dense scale 0).
    private static SparseFeatures Encode(ModelView view, Random rng, int trial)
    {
        var member = TestModels.Member((ulong)trial, rng.Next());
        member.LocalHour = (byte)rng.Next(24);
        var title = TestModels.Title() with { Interacted = rng.Next(2) == 0, RecommenderScore = (float)rng.NextDouble() };
        Assert.True(FeatureEncoder.TryEncode(view.FeatureSpace, member, title, out SparseFeatures features));
        if (trial % 5 == 4)
        {
            features.Dense[rng.Next(features.DenseCount)] = trial % 10 == 9 ? float.NaN : (float)(rng.NextDouble() * 40) - 20;
        }

        return features;
    }

    // The ends of the hashed range, the first feature's slot again (duplicates), or anywhere in it.
    private static int RandomSlot(Random rng, int denseCount, int dimension, int first) => rng.Next(5) switch
    {
        0 => denseCount,
        1 => dimension - 1,
        2 => first,
        _ => rng.Next(denseCount, dimension),
    };

    private static int RandomSign(Random rng) => rng.Next(6) switch
    {
        0 => 127,
        1 => -127,
        2 => 1,
        3 => -1,
        4 => 0,
        _ => rng.Next(-127, 128),
    };

    private static void AssertSameScores(ModelView view, in SparseFeatures features, float[] x, float[] actual, float[] expected, string what)
    {
        // The materialized rule: each feature added to its slot's count, clamped to ±127 after each one.
        Array.Clear(x);
        ((ReadOnlySpan<float>)features.Dense)[..features.DenseCount].CopyTo(x);
        for (var f = 0; f < SparseFeatures.HashedCount; f++)
        {
            x[features.Slots[f]] = Math.Clamp(x[features.Slots[f]] + features.Signs[f], -127f, 127f);
        }

        Scorer.Score(view, features, actual);
        Scorer.Score(view, x, expected);
        for (var i = 0; i < view.PaddedCount; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(actual[i]) == BitConverter.SingleToInt32Bits(expected[i]), $"{what} image {i}: sparse {actual[i]} vs materialized {expected[i]}");
        }
    }
}
