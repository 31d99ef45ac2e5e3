using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Learning.Join;
using EdgeSelector.Learning.Rollout;
using Xunit;

namespace EdgeSelector.Learning.Tests.Rollout;

/// <summary>The control plane's fleet-wide counts (docs/rollout.md, "Fleet"): per arm and bundle, joined by event id across runs.</summary>
public class FleetRolloutTallyTests
{
    private const long Start = 1_000_000;

    [Fact]
    public void Counts_PerArmAndBundle_OnlySinceTheTrialStarted_RewardsJoinedAcrossRuns()
    {
        using var dir = new TempDirectory();
        var path = dir.File("rollout.json");
        var tally = FleetRolloutTally.Load(path);
        tally.Track(candidateVersion: 2, activeVersion: 1, startedAtMs: Start);
        tally.AddImpression(Impression(1, Start - 1, Arm.Control, 1)); // before the trial: not counted
        tally.AddImpression(Impression(2, Start, Arm.Control, 1));
        tally.AddImpression(Impression(3, Start + 5, Arm.Candidate, 2));
        tally.AddImpression(Impression(4, Start + 6, Arm.Candidate, 2, FallbackReason.NoModel));
        tally.AddReward(Reward(3, quality: true), QualityPlayRule.Default);
        tally.AddReward(Reward(2, quality: false), QualityPlayRule.Default);
        tally.AddReward(Reward(9, quality: true), QualityPlayRule.Default); // its impression is not here yet
        Assert.Equal(1, tally.PendingRewards);
        tally.Save(path);

        // The next run: the reward's impression arrives (another node shipped it later) and the waiting reward joins.
        var next = FleetRolloutTally.Load(path);
        next.Track(2, 1, Start);
        next.AddImpression(Impression(9, Start + 9, Arm.Candidate, 2));
        next.RetryPending(QualityPlayRule.Default, Start + 10, maxWaitMs: 60_000);
        Assert.Equal(0, next.PendingRewards);
        Assert.Equal(new ArmCounts(1, 0, 1, 0), next.Counts(Arm.Control));
        Assert.Equal(new ArmCounts(3, 1, 2, 2), next.Counts(Arm.Candidate));
        Assert.Equal(["control/1", "candidate/2"], next.Rows.Select(r => $"{r.Arm}/{r.BundleVersion}"));

        // Another candidate starts the counts again.
        next.Track(3, 2, Start + 100);
        Assert.Equal(default, next.Counts(Arm.Candidate));
    }

    [Fact]
    public void RetryPending_ARewardWithoutItsImpressionForTooLong_CountsAsUnjoined()
    {
        var tally = new FleetRolloutTally();
        tally.Track(2, 1, Start);
        tally.AddReward(Reward(7, quality: true), QualityPlayRule.Default);
        tally.RetryPending(QualityPlayRule.Default, Start + 10, maxWaitMs: 60_000);
        Assert.Equal(1, tally.PendingRewards);
        tally.RetryPending(QualityPlayRule.Default, Start + 120_000, maxWaitMs: 60_000);
        Assert.Equal(0, tally.PendingRewards);
        Assert.Equal(1, tally.UnjoinedRewards);
    }

    [Fact]
    public void Report_JudgesTheFleetCounts_WithTheNodesTest()
    {
        var tally = new FleetRolloutTally();
        tally.Track(2, 1, Start);
        for (ulong i = 0; i < 2_000; i++)
        {
            var arm = i % 2 == 0 ? Arm.Control : Arm.Candidate;
            tally.AddImpression(Impression(i + 1, Start + 1, arm, arm == Arm.Control ? 1UL : 2UL));
            // Control: a take for every 5th of its impressions (0.2); candidate: none: clearly worse.
            tally.AddReward(Reward(i + 1, quality: arm == Arm.Control && i % 10 == 0), QualityPlayRule.Default);
        }

        var options = new RolloutTestOptions { MinImpressionsPerArm = 300 };
        var judgement = RolloutTest.Judge(tally.Counts(Arm.Control), tally.Counts(Arm.Candidate), options);
        var report = FleetRolloutReport.Of(tally, judgement, 0.5, "running", 1);
        Assert.Equal(RolloutAction.Rollback, judgement.Action);
        Assert.Equal("worse", report.Verdict);
        Assert.Equal("rollback", report.Decision);
        Assert.StartsWith("worse:", report.Reason, StringComparison.Ordinal);
        Assert.Equal(1_000, report.Arms[0].Impressions);
        Assert.Equal(0.2, report.Arms[0].TakeFraction!.Value, 6);
        Assert.True(report.TakeDifferenceHigh < 0);
    }

    private static ImpressionRecord Impression(ulong id, long ms, Arm arm, ulong version, FallbackReason fallback = FallbackReason.None) =>
        new() { EventId = id, TimestampMs = ms, Arm = (byte)arm, ModelVersion = version, Fallback = fallback, TitleId = 1, ChosenImageId = 1, Propensity = 1 };

    private static RewardRecord Reward(ulong id, bool quality) =>
        new() { EventId = id, TimestampMs = Start + 1, PlayStarted = true, MinutesWatched = quality ? 30 : 1, FractionCompleted = quality ? 0.5f : 0.01f };
}
