using EdgeSelector.Core.Logging;
using EdgeSelector.Learning.Join;
using Xunit;

namespace EdgeSelector.Learning.Tests.Join;

public sealed class RewardJoinerTests
{
    private const long Hour = 3_600_000;
    private const long Window = 24 * Hour;
    private static readonly long T0 = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    // An event id laid out as the server issues them: node 0, seconds since 2020 << 20, sequence.
    private static ulong EventId(long unixMs, int sequence) => ((ulong)((unixMs / 1000) - 1_577_836_800) << 20) + (ulong)sequence;

    private static ImpressionRecord Impression(ulong eventId, long unixMs, FallbackReason fallback = FallbackReason.None) => new()
    {
        EventId = eventId,
        TimestampMs = unixMs,
        MemberId = 7,
        TitleId = 1001,
        ChosenImageId = 100101,
        CandidateCount = fallback is FallbackReason.None or FallbackReason.NoProfile ? (ushort)3 : (ushort)0,
        Propensity = 1.0 / 3,
        Fallback = fallback,
    };

    private static RewardRecord Quality(ulong eventId, long unixMs) =>
        new() { EventId = eventId, TimestampMs = unixMs, PlayStarted = true, MinutesWatched = 40, FractionCompleted = 0.5f };

    private static RewardRecord Short(ulong eventId, long unixMs) =>
        new() { EventId = eventId, TimestampMs = unixMs, PlayStarted = true, MinutesWatched = 2, FractionCompleted = 0.02f };

    [Fact]
    public void Reward_AtExactlyTheWindowEdge_Counts_OneMillisecondLater_IsLate()
    {
        var joiner = new RewardJoiner();
        var a = EventId(T0, 1);
        var b = EventId(T0, 2);
        joiner.AddImpression(Impression(a, T0));
        joiner.AddImpression(Impression(b, T0));
        joiner.AddReward(Quality(a, T0 + Window));
        joiner.AddReward(Quality(b, T0 + Window + 1));

        var examples = joiner.Close(T0 + Window);
        Assert.Equal(2, examples.Count);
        Assert.True(examples.Single(e => e.Impression.EventId == a).Label);
        Assert.False(examples.Single(e => e.Impression.EventId == b).Label);
        Assert.Equal(1, joiner.Counters.Rewards);
        Assert.Equal(1, joiner.Counters.LateRewards);
    }

    [Fact]
    public void Close_BeforeTheWindowEnds_KeepsTheImpressionPending_AtTheEnd_EmitsANegative()
    {
        var joiner = new RewardJoiner();
        joiner.AddImpression(Impression(EventId(T0, 1), T0));

        Assert.Empty(joiner.Close(T0 + Window - 1));
        Assert.Equal(1, joiner.PendingCount);

        var closed = Assert.Single(joiner.Close(T0 + Window));
        Assert.False(closed.Label);
        Assert.Equal(0, joiner.PendingCount);
        Assert.Equal(1, joiner.Counters.Negatives);
    }

    [Fact]
    public void Window_IsConfigurable()
    {
        var joiner = new RewardJoiner(new RewardJoinOptions { AttributionWindow = TimeSpan.FromHours(1) });
        var id = EventId(T0, 1);
        joiner.AddImpression(Impression(id, T0));
        joiner.AddReward(Quality(id, T0 + Hour + 1));

        Assert.False(Assert.Single(joiner.Close(T0 + Hour)).Label);
        Assert.Equal(1, joiner.Counters.LateRewards);
    }

    [Fact]
    public void DuplicateRewards_AreCountedAndCombined_AQualityPlayAmongThemWins()
    {
        var joiner = new RewardJoiner();
        var id = EventId(T0, 1);
        joiner.AddImpression(Impression(id, T0));
        joiner.AddReward(Short(id, T0 + Hour));
        joiner.AddReward(Short(id, T0 + Hour));
        joiner.AddReward(Quality(id, T0 + (2 * Hour)));

        Assert.True(Assert.Single(joiner.Close(T0 + Window)).Label);
        Assert.Equal(1, joiner.Counters.Rewards);
        Assert.Equal(2, joiner.Counters.DuplicateRewards);
    }

    [Fact]
    public void UnknownLateAndInvalidRewards_AreCountedNotThrown()
    {
        var joiner = new RewardJoiner();
        var id = EventId(T0, 1);
        joiner.AddImpression(Impression(id, T0));

        joiner.AddReward(Quality(EventId(T0, 99), T0 + Hour));          // never logged, window still open: unknown
        joiner.AddReward(Quality(EventId(T0 - (3 * Window), 5), T0));   // issued 3 days ago, not held: late
        joiner.AddReward(Quality(0, T0));                                // no event id at all: unknown
        joiner.AddReward(Quality(id, T0 - Hour));                        // before its impression: invalid
        joiner.AddReward(new RewardRecord { EventId = id, TimestampMs = T0 + 1, PlayStarted = true, MinutesWatched = float.NaN });

        Assert.Equal(1, joiner.Counters.UnknownRewards);   // the one without an id; the other waits for its impression
        Assert.Equal(1, joiner.OrphanRewardCount);
        Assert.Equal(1, joiner.Counters.LateRewards);
        Assert.Equal(2, joiner.Counters.InvalidRewards);
        Assert.False(Assert.Single(joiner.Close(T0 + Window)).Label);
        Assert.Equal(1, joiner.OrphanRewardCount);          // its event's window (from the id's second) is still open

        Assert.Empty(joiner.Close(T0 + Window + 1000));
        Assert.Equal(2, joiner.Counters.UnknownRewards);
        Assert.Equal(0, joiner.OrphanRewardCount);
    }

    [Fact]
    public void Reward_ReadBeforeItsImpression_IsHeldAndJoinsWhenTheImpressionArrives()
    {
        var joiner = new RewardJoiner();
        var id = EventId(T0, 1);
        joiner.AddReward(Quality(id, T0 + 5));
        Assert.Equal(1, joiner.OrphanRewardCount);

        joiner.AddImpression(Impression(id, T0));
        Assert.Equal(0, joiner.OrphanRewardCount);
        Assert.True(Assert.Single(joiner.Close(T0 + Window)).Label);
        Assert.Equal(1, joiner.Counters.Rewards);
        Assert.Equal(0, joiner.Counters.UnknownRewards);
    }

    [Fact]
    public void FallbackImpressions_AreNotTrainingData_DuplicateImpressionsAreIgnored()
    {
        var joiner = new RewardJoiner();
        joiner.AddImpression(Impression(EventId(T0, 1), T0, FallbackReason.UnknownTitle));
        joiner.AddImpression(Impression(EventId(T0, 2), T0, FallbackReason.NoProfile)); // a real decision without a profile
        joiner.AddImpression(Impression(EventId(T0, 2), T0));

        Assert.Single(joiner.Close(T0 + Window));
        Assert.Equal(1, joiner.Counters.Fallbacks);
        Assert.Equal(1, joiner.Counters.DuplicateImpressions);
    }

    [Theory]
    [InlineData(true, 10f, 0f, true)]
    [InlineData(true, 9.9f, 0.25f, true)]
    [InlineData(true, 9.9f, 0.24f, false)]
    [InlineData(false, 60f, 1f, false)]
    public void QualityPlayRule_MinutesOrFraction(bool started, float minutes, float fraction, bool quality) =>
        Assert.Equal(quality, new QualityPlayRule().IsQuality(new RewardRecord { PlayStarted = started, MinutesWatched = minutes, FractionCompleted = fraction }));

    [Fact]
    public void QualityPlayRule_ShortPlaysAreNegatives_AndCountedAsSuch()
    {
        var joiner = new RewardJoiner(new RewardJoinOptions { Rule = new QualityPlayRule { MinMinutes = 5, MinFraction = 0.5f } });
        var id = EventId(T0, 1);
        joiner.AddImpression(Impression(id, T0));
        joiner.AddReward(new RewardRecord { EventId = id, TimestampMs = T0 + 1000, PlayStarted = true, MinutesWatched = 4.9f, FractionCompleted = 0.4f });

        var example = Assert.Single(joiner.Close(T0 + Window));
        Assert.False(example.Label);
        Assert.True(example.PlayStarted);
        Assert.Equal(1, joiner.Counters.ShortPlays);
    }

    [Fact]
    public void SaveAndLoadPending_AcrossRuns_TheLabelSurvivesAndLaterRewardsStillJoin()
    {
        var dir = Path.Combine(Path.GetTempPath(), "es-join-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var path = Path.Combine(dir, "pending.esrf");
            var a = EventId(T0, 1);
            var b = EventId(T0, 2);
            var first = new RewardJoiner();
            first.AddImpression(Impression(a, T0));
            first.AddImpression(Impression(b, T0));
            first.AddReward(Quality(a, T0 + Hour));
            var c = EventId(T0, 3);
            first.AddReward(Quality(c, T0 + Hour)); // its impression comes in the next run
            Assert.Empty(first.Close(T0 + Hour));
            first.SavePending(path);

            var second = new RewardJoiner();
            second.LoadPending(path);
            Assert.Equal(2, second.PendingCount);
            Assert.Equal(1, second.OrphanRewardCount);
            second.AddReward(Quality(b, T0 + (2 * Hour)));
            second.AddImpression(Impression(c, T0));
            var examples = second.Close(T0 + Window);
            Assert.All(examples, e => Assert.True(e.Label));
            Assert.Equal(3, examples.Count);
            Assert.Equal(2, second.Counters.Rewards); // b and c; a's reward, counted by the first run, is not counted twice
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void AddEntry_PageAndVersion1Record_EveryTitleJoinsByItsOwnEventId()
    {
        // A page entry (what the server logs): title i has the page's first event id + i.
        var first = EventId(T0, 10);
        var member = new Core.Features.MemberContext { MemberId = 7 };
        var page = new byte[ImpressionPage.SizeOf(3)];
        var writer = new ImpressionPageWriter(page, 3, first, T0, member, MemberFlags.ProfileFound);
        for (var i = 0; i < 3; i++)
        {
            writer.SetTitle(i, TitleDecision.From(Impression(0, T0)) with { TitleId = (uint)(1001 + i) });
        }

        var old = new byte[ImpressionRecord.RecordSize];
        Impression(EventId(T0, 20), T0).WriteRecord(old);
        var reward = new byte[RewardRecord.Size];
        Quality(first + 1, T0 + Hour).Write(reward);

        var joiner = new RewardJoiner();
        Assert.True(joiner.AddEntry(page));
        Assert.True(joiner.AddEntry(old));
        Assert.False(joiner.AddEntry(reward));
        Assert.False(joiner.AddEntry(page.AsSpan(0, page.Length - 1)));
        joiner.AddReward(Quality(first + 1, T0 + Hour));
        var examples = joiner.Close(T0 + Window);

        Assert.Equal(4, examples.Count);
        Assert.Equal([first, first + 1, first + 2, EventId(T0, 20)], examples.Select(e => e.Impression.EventId));
        Assert.Equal([1001U, 1002U, 1003U, 1001U], examples.Select(e => e.Impression.TitleId));
        Assert.Equal([false, true, false, false], examples.Select(e => e.Label));
    }
}
