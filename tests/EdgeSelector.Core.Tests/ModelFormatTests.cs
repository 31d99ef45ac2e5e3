using System.Runtime.CompilerServices;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Scoring;

namespace EdgeSelector.Core.Tests;

public class ModelFormatTests
{
    [Theory]
    [InlineData(WeightPrecision.Float32)]
    [InlineData(WeightPrecision.BFloat16)]
    [InlineData(WeightPrecision.Int8)]
    public void Serialize_RoundTrip_PreservesEveryField(WeightPrecision precision)
    {
        var model = TestModels.Random(13, 64, seed: 3);
        model.Images[4].Cold = true;
        model.ColdTitle = true;
        var blob = model.Serialize(precision);

        Assert.True(ModelView.TryOpen(blob, ModelCheck.Full, out var view, out var error), error.ToString());
        Assert.Equal(blob.Length, view.TotalLength);
        Assert.Equal(model.GetSerializedSize(precision), blob.Length);
        var back = TitleModel.FromView(view);
        Assert.Equal(model.TitleId, back.TitleId);
        Assert.Equal(model.Version, back.Version);
        Assert.Equal(model.DefaultImageId, back.DefaultImageId);
        Assert.Equal(model.Features, back.Features);
        Assert.Equal(model.PriorMean, back.PriorMean);
        Assert.True(back.ColdTitle);
        Assert.Equal(model.Images.Count, back.Images.Count);

        // Float32 is exact; bfloat16 keeps 8 significant bits; int8 is within half a quantization step.
        for (var i = 0; i < model.Images.Count; i++)
        {
            var a = model.Images[i];
            var b = back.Images[i];
            Assert.Equal(a.Id, b.Id);
            Assert.Equal(a.Tags, b.Tags);
            Assert.Equal(a.Bias, b.Bias);
            Assert.Equal(a.BiasVariance, b.BiasVariance);
            Assert.Equal(a.Cold, b.Cold);
            var maxAbs = a.Weights.Max(Math.Abs);
            for (var j = 0; j < a.Weights.Length; j++)
            {
                var tolerance = precision switch
                {
                    WeightPrecision.Float32 => 0f,
                    WeightPrecision.BFloat16 => Math.Abs(a.Weights[j]) / 256f,
                    _ => (maxAbs / 254f) + 1e-7f,
                };
                Assert.InRange(Math.Abs(a.Weights[j] - b.Weights[j]), 0f, tolerance);
            }
        }
    }

    [Fact]
    public void TryOpen_EveryFlippedByte_IsRejectedByFullCheck()
    {
        var blob = TestModels.Random(5, FeatureSpace.MinDimension, seed: 9).Serialize(WeightPrecision.Int8);
        for (var i = 0; i < blob.Length; i++)
        {
            for (var bit = 0; bit < 8; bit += 3)
            {
                var copy = (byte[])blob.Clone();
                copy[i] ^= (byte)(1 << bit);
                Assert.False(ModelView.TryOpen(copy, ModelCheck.Full, out _, out var error), $"byte {i} bit {bit} accepted");
                Assert.NotEqual(ModelError.None, error);
            }
        }
    }

    [Fact]
    public void TryOpen_EveryTruncation_IsRejectedByBothChecks()
    {
        var blob = TestModels.Random(9, 64, seed: 4).Serialize();
        for (var length = 0; length < blob.Length; length++)
        {
            Assert.False(ModelView.TryOpen(blob.AsSpan(0, length), ModelCheck.Structure, out _, out var error));
            Assert.Equal(length < ModelFormat.HeaderSize ? ModelError.Truncated : ModelError.Truncated, error);
            Assert.False(ModelView.TryOpen(blob.AsSpan(0, length), ModelCheck.Full, out _, out _));
        }
    }

    [Fact]
    public void TryOpen_LongerBuffer_ViewCoversOnlyTheBlob()
    {
        var blob = TestModels.Random(3, 32, seed: 5).Serialize();
        var padded = new byte[blob.Length + 100];
        blob.CopyTo(padded, 0);
        Assert.True(ModelView.TryOpen(padded, ModelCheck.Full, out var view, out _));
        Assert.Equal(blob.Length, view.Bytes.Length);
    }

    [Fact]
    public void TryOpen_WrongMagicOrVersion_NamesTheReason()
    {
        var blob = TestModels.Random(3, 32, seed: 5).Serialize();
        var badMagic = (byte[])blob.Clone();
        badMagic[0] = (byte)'X';
        Assert.False(ModelView.TryOpen(badMagic, ModelCheck.Structure, out _, out var e1));
        Assert.Equal(ModelError.BadMagic, e1);
        var badVersion = (byte[])blob.Clone();
        badVersion[4] = 99;
        Assert.False(ModelView.TryOpen(badVersion, ModelCheck.Structure, out _, out var e2));
        Assert.Equal(ModelError.UnsupportedVersion, e2);
    }

    [Fact]
    public void TryOpen_Version1Blob_IsRejectedAsUnsupported()
    {
        // Version 1 stored int8 weights feature-major; reading its bytes with version 2's grouped layout would
        // score garbage, so a version-1 blob must be refused, not scored.
        var blob = TestModels.Random(3, 32, seed: 5).Serialize(WeightPrecision.Int8);
        blob[4] = 1;
        blob[5] = 0;
        Assert.False(ModelView.TryOpen(blob, ModelCheck.Structure, out _, out var error));
        Assert.Equal(ModelError.UnsupportedVersion, error);
    }

    [Theory]
    [InlineData(WeightPrecision.Float32)]
    [InlineData(WeightPrecision.BFloat16)]
    public void TryOpen_Version1FloatBlob_IsStillReadAndScoresTheSame(WeightPrecision precision)
    {
        // fp32 and bf16 sections kept their layout in version 2: the trainer's older fp32 bundles stay readable.
        var model = TestModels.Random(5, 32, seed: 9);
        var current = model.Serialize(precision);
        var old = (byte[])current.Clone();
        old[4] = 1;
        old[5] = 0;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(old.AsSpan(12), ModelView.ComputeChecksum(old));
        Assert.True(ModelView.TryOpen(old, ModelCheck.Full, out var oldView, out var error), error.ToString());
        Assert.True(ModelView.TryOpen(current, ModelCheck.Full, out var view, out _));
        var x = new float[32];
        Assert.True(FeatureEncoder.TryEncode(view.FeatureSpace, TestModels.Member(3), TestModels.Title(), x));
        var a = new float[view.PaddedCount];
        var b = new float[view.PaddedCount];
        Scorer.Score(view, x, a);
        Scorer.Score(oldView, x, b);
        Assert.Equal(a, b);
    }

    [Theory]
    [InlineData(3, 30)]
    [InlineData(9, 64)]
    public void Int8Section_GroupsFourFeaturesOfAnImage_AsTheDocumentedIndex(int images, int dimension)
    {
        var model = TestModels.Random(images, dimension, seed: 8);
        Assert.True(ModelView.TryOpen(model.Serialize(WeightPrecision.Int8), ModelCheck.Full, out var view, out _));
        var kp = view.PaddedCount;
        Assert.Equal(kp * ((dimension + 3) / 4 * 4), view.Weights.Length);
        for (var i = 0; i < images; i++)
        {
            var weights = model.Images[i].Weights;
            var max = weights.Max(Math.Abs);
            for (var j = 0; j < dimension; j++)
            {
                // Written out here rather than through ModelFormat.ElementIndex: ((j/4)·Kp + i)·4 + j%4.
                var stored = view.Weights[(((j / 4) * kp) + i) * 4 + (j % 4)] - 128; // stored as q + 128
                Assert.Equal((int)MathF.Round(weights[j] / (max / 127f)), stored);
            }
        }

        // The padding features of the last group hold a zero weight (the byte 128).
        for (var i = 0; i < kp; i++)
        {
            for (var j = dimension; j < (dimension + 3) / 4 * 4; j++)
            {
                Assert.Equal(128, view.Weights[(((j / 4) * kp) + i) * 4 + (j % 4)]); // q = 0
            }
        }
    }

    [Theory]
    [InlineData(32, 64, WeightPrecision.Float32, true, 64 + (32 * 21) + 32 + 8192 + 8192)]
    [InlineData(32, 64, WeightPrecision.Int8, false, 64 + (32 * 21) + 32 + 2048)]
    [InlineData(5, 32, WeightPrecision.BFloat16, true, 256 + 512 + 512)]
    [InlineData(8, 30, WeightPrecision.Int8, false, 256 + 256)]
    public void SizeWithoutTags_MatchesTheDocumentedFormula(int images, int dimension, WeightPrecision precision, bool variances, int expected)
    {
        Assert.Equal(expected, ModelFormat.SizeWithoutTags(images, dimension, precision, variances));
    }

    [Fact]
    public void Serialize_InvalidModel_ThrowsWithTheReason()
    {
        var model = TestModels.Random(2, 32, seed: 1);
        model.Images[1].Id = model.Images[0].Id;
        Assert.Contains("repeated", Assert.Throws<ArgumentException>(() => model.Serialize()).Message);
        model = TestModels.Random(2, 32, seed: 1);
        model.Images[0].Weights[3] = float.NaN;
        Assert.Throws<ArgumentException>(() => model.Serialize());
        model = TestModels.Random(2, 32, seed: 1);
        model.Images[0].Variances[3] = -1;
        Assert.Throws<ArgumentException>(() => model.Serialize());
    }

    [Fact]
    public void MemberProfile_IsBlittableAnd72Bytes()
    {
        Assert.Equal(72, Unsafe.SizeOf<MemberProfile>());
        Assert.False(RuntimeHelpers.IsReferenceOrContainsReferences<MemberProfile>());
    }
}
