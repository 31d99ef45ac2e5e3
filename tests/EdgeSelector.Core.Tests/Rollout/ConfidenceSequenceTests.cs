using EdgeSelector.Core.Rollout;

namespace EdgeSelector.Core.Tests.Rollout;

public class ConfidenceSequenceTests
{
    // Two arms with equal take rates, looked at every 100 impressions up to 20,000 per arm: the always-valid sequence
    // must exclude 0 at ANY look in at most about α of the runs. A fixed-sample 95% interval looked at 200 times
    // excludes 0 at some look far more often (checked too, so the test would see a boundary that is not always-valid).
    [Fact]
    public void Difference_EqualArmsLookedAtContinuously_ExcludesTheTruthAtAnyLookInAtMostAlphaOfRuns()
    {
        const int runs = 300;
        var sequenceFalseAlarms = 0;
        var naiveFalseAlarms = 0;
        var rng = new Random(15);
        for (var run = 0; run < runs; run++)
        {
            long k0 = 0, k1 = 0, n = 0;
            bool sequenceAlarm = false, naiveAlarm = false;
            for (var look = 0; look < 200; look++)
            {
                for (var i = 0; i < 100; i++)
                {
                    k0 += rng.NextDouble() < 0.15 ? 1 : 0;
                    k1 += rng.NextDouble() < 0.15 ? 1 : 0;
                }

                n += 100;
                var cs = ConfidenceSequence.Difference(k1, n, k0, n, tau: 0.02, alpha: 0.05);
                sequenceAlarm |= cs.Low > 0 || cs.High < 0;
                var p1 = (double)k1 / n;
                var p0 = (double)k0 / n;
                var half = 1.96 * Math.Sqrt((p1 * (1 - p1) / n) + (p0 * (1 - p0) / n));
                naiveAlarm |= Math.Abs(p1 - p0) > half;
            }

            sequenceFalseAlarms += sequenceAlarm ? 1 : 0;
            naiveFalseAlarms += naiveAlarm ? 1 : 0;
        }

        Assert.True(sequenceFalseAlarms <= runs * 0.07, $"{sequenceFalseAlarms} of {runs} runs excluded the true difference 0 at some look");
        Assert.True(naiveFalseAlarms > sequenceFalseAlarms * 3, $"fixed-sample interval: {naiveFalseAlarms} runs, sequence {sequenceFalseAlarms}");
    }

    [Fact]
    public void Difference_ARealDifference_IsDetectedAndTheIntervalShrinks()
    {
        var rng = new Random(3);
        long k0 = 0, k1 = 0;
        double? firstDetection = null;
        double width1000 = 0, width20000 = 0;
        for (var n = 1; n <= 20_000; n++)
        {
            k0 += rng.NextDouble() < 0.15 ? 1 : 0;
            k1 += rng.NextDouble() < 0.05 ? 1 : 0;
            var cs = ConfidenceSequence.Difference(k1, n, k0, n, 0.02, 0.05);
            if (firstDetection is null && cs.High < 0)
            {
                firstDetection = n;
            }

            width1000 = n == 1_000 ? cs.High - cs.Low : width1000;
            width20000 = n == 20_000 ? cs.High - cs.Low : width20000;
            if (n == 20_000)
            {
                Assert.InRange(-0.1, cs.Low, cs.High);
            }
        }

        Assert.NotNull(firstDetection);
        Assert.InRange(firstDetection!.Value, 50, 1_000);
        Assert.True(width20000 < width1000 / 3, $"{width20000} vs {width1000}");
    }

    [Fact]
    public void Wilson_MatchesTheClosedForm()
    {
        var w = ConfidenceSequence.Wilson(15, 100);
        Assert.Equal(0.15, w.Estimate, 12);
        Assert.Equal(0.0931, w.Low, 4);
        Assert.Equal(0.2328, w.High, 4);
        Assert.True(double.IsNaN(ConfidenceSequence.Difference(1, 0, 1, 10, 0.02, 0.05).Low));
    }
}
