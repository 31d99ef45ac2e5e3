using EdgeSelector.Core.Logging;
using EdgeSelector.Learning.Evaluation;
using EdgeSelector.Learning.Evaluation.Data;
using EdgeSelector.Learning.Join;
using EdgeSelector.Learning.Logging;
using EdgeSelector.Learning.Training;
using Xunit;

namespace EdgeSelector.Learning.Tests.Join;

/// <summary>One definition of a quality play: what the trainer labels a take is what evaluate scores as one.</summary>
public sealed class QualityPlayRuleTests
{
    public static TheoryData<float, float> Rules => new() { { 10f, 0.25f }, { 5f, 0.5f }, { 30f, 0.9f } };

    [Theory]
    [MemberData(nameof(Rules))]
    public void EvaluateQualityReward_EqualsTheTrainersLabel_ForEveryEvent(float minutes, float fraction)
    {
        // Plays on both sides of every threshold, resent rewards (two short plays must not add up to a long one),
        // a play that never started, and impressions without a reward.
        var rule = new QualityPlayRule { MinMinutes = minutes, MinFraction = fraction };
        var rng = new Random(3);
        var t0 = LoopWorld.StartMs;
        var impressions = new List<ImpressionRecord>();
        var rewards = new List<RewardRecord>();
        for (var i = 1; i <= 400; i++)
        {
            var id = (ulong)i;
            impressions.Add(new ImpressionRecord { EventId = id, TimestampMs = t0, TitleId = 7, ChosenImageId = 71, ChosenIndex = 0, CandidateCount = 2, Propensity = 0.5 });
            for (var k = rng.Next(3); k > 0; k--)
            {
                rewards.Add(new RewardRecord
                {
                    EventId = id,
                    TimestampMs = t0 + 60_000,
                    PlayStarted = rng.Next(10) > 0,
                    MinutesWatched = minutes * (float)(0.6 + (0.8 * rng.NextDouble())),
                    FractionCompleted = fraction * (float)(0.6 + (0.8 * rng.NextDouble())),
                });
            }
        }

        using var dir = new TempDirectory();
        var path = dir.File("log.esrf");
        using (var writer = new RecordFileWriter(path))
        {
            impressions.ForEach(r => writer.Append(r));
            rewards.ForEach(r => writer.Append(r));
        }

        var joiner = new RewardJoiner(new RewardJoinOptions { Rule = rule });
        impressions.ForEach(r => joiner.AddImpression(r));
        rewards.ForEach(r => joiner.AddReward(r));
        var labels = joiner.Close(long.MaxValue).ToDictionary(e => e.Impression.EventId, e => e.Label);

        var source = new ImpressionLogSource(path, null, ImpressionReward.Quality, rule);
        var sample = new LoggedSample(source.FeatureNames.Count);
        var seen = 0;
        using (var reader = source.OpenReader())
        {
            while (reader.TryRead(sample))
            {
                Assert.Equal(labels[sample.Impression!.Value.EventId] ? 1.0 : 0.0, sample.Reward);
                seen++;
            }
        }

        Assert.Equal(400, seen);
        Assert.InRange(labels.Values.Count(l => l), 60, 340); // both labels occur
        Assert.Contains(rule.MinMinutes.ToString(System.Globalization.CultureInfo.InvariantCulture), source.RewardDescription, StringComparison.Ordinal);
    }

    [Fact]
    public void SimulatedPlays_ReadAlike_UnderTheDefaultRuleAndUnderHalfTheTitle()
    {
        // The simulator writes quality plays of 50-100% and bounces under 4.5%: both rules see the same takes.
        var world = new Simulation.SimulatedWorld(new Simulation.Scenario { Members = 50, Titles = 10 });
        var log = Simulation.SimulatedLog.Generate(world, Simulation.WorldPolicies.Build(world, "uniform"), 5_000, 2);
        var half = new QualityPlayRule { MinMinutes = 50, MinFraction = 0.5f };
        var plays = 0;
        for (var row = 0; row < log.Count; row++)
        {
            if (log.Row(row).Reward is { } r)
            {
                plays++;
                Assert.Equal(half.IsQuality(r), QualityPlayRule.Default.IsQuality(r));
            }
        }

        Assert.True(plays > 500, $"{plays} plays");
    }

    [Fact]
    public void Rule_NegativeOrNaNThresholds_AreRefused()
    {
        Assert.Throws<ArgumentException>(() => new QualityPlayRule { MinMinutes = -1 }.Validate());
        Assert.Throws<ArgumentException>(() => new RewardJoiner(new RewardJoinOptions { Rule = new QualityPlayRule { MinFraction = float.NaN } }));
        Assert.Equal("quality play = started and >= 10 min or >= 25% of the title", QualityPlayRule.Default.Describe());
    }
}
