using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Scoring;
using Xunit.Abstractions;

namespace EdgeSelector.Core.Tests;

/// <summary>
/// The accuracy cost of storing weights as bfloat16 or int8 instead of float32 (for int8, with the dense slots of x
/// quantized too, as int8 scoring does): the largest score error and how often the best image changes (the figures
/// in docs/model-format.md, "Precision").
/// </summary>
public class QuantizationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(WeightPrecision.BFloat16)]
    [InlineData(WeightPrecision.Int8)]
    public void Quantized_ScoresStayWithinTheBound_AndArgmaxRarelyChanges(WeightPrecision precision)
    {
        const int Models = 2000;
        const int Contexts = 20;
        double maxError = 0, maxRelativeToBound = 0;
        var argmaxChanged = 0;
        var nearTies = 0;
        var x = new float[64];
        var exact = new float[32];
        var quantized = new float[32];
        for (var m = 0; m < Models; m++)
        {
            var model = TestModels.Random(32, 64, seed: m, weightScale: 0.01f);
            Assert.True(ModelView.TryOpen(model.Serialize(WeightPrecision.Float32), ModelCheck.Full, out var f32, out _));
            var blob = model.Serialize(precision);
            Assert.True(ModelView.TryOpen(blob, ModelCheck.Full, out var q, out _));
            for (var c = 0; c < Contexts; c++)
            {
                FeatureEncoder.TryEncode(f32.FeatureSpace, TestModels.Member((ulong)c, (m * Contexts) + c), TestModels.Title(), x);
                Scorer.Score(f32, x, exact);
                Scorer.Score(q, x, quantized);
                var l1 = x.Sum(Math.Abs);
                // Int8 also quantizes the dense slots of x to steps of m / 127 (m = max(1, their largest magnitude)), an error
                // of at most m / 254 per non-zero dense slot; the hashed slots are integers and exact.
                var dense = x.AsSpan(0, FeatureEncoder.DenseSlots).ToArray();
                var denseMax = Math.Max(1f, dense.Max(Math.Abs)); // m = max(1, max |dense x|)
                var nonZeroDense = dense.Count(v => v != 0);
                for (var i = 0; i < 32; i++)
                {
                    var error = Math.Abs(exact[i] - quantized[i]);
                    maxError = Math.Max(maxError, error);
                    var maxW = model.Images[i].Weights.Max(Math.Abs);
                    var bound = precision == WeightPrecision.Int8
                        ? (maxW / 254 * (l1 + (nonZeroDense * denseMax))) + 1e-6
                        : (l1 * maxW / 256) + 1e-6;
                    maxRelativeToBound = Math.Max(maxRelativeToBound, error / bound);
                }

                var a = Array.IndexOf(exact, exact.Max());
                var b = Array.IndexOf(quantized, quantized.Max());
                if (a != b)
                {
                    argmaxChanged++;
                    // A change is only allowed between images the exact model scores within the error bound.
                    nearTies += Math.Abs(exact[a] - exact[b]) <= 2 * maxError ? 1 : 0;
                }
            }
        }

        var rate = argmaxChanged / (double)(Models * Contexts);
        output.WriteLine($"{precision}: largest score error {maxError:E2}; largest error / bound {maxRelativeToBound:F3}; argmax changed in {argmaxChanged} of {Models * Contexts} ({rate:P3})");
        Assert.True(maxRelativeToBound <= 1.0, $"error exceeded its bound ({maxRelativeToBound})");
        Assert.Equal(argmaxChanged, nearTies);
        Assert.True(rate < 0.05, $"argmax changed in {rate:P2} of selections");
    }
}
