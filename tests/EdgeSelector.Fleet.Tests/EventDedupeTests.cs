using EdgeSelector.Cli.Commands.Fleet;
using EdgeSelector.Core.Logging;

namespace EdgeSelector.Fleet.Tests;

/// <summary>The fleet trainer's memory of taken event ids, across restarts (what makes a re-delivery harmless).</summary>
public sealed class EventDedupeTests
{
    // Event ids as nodes issue them: node in the top 12 bits, then seconds since 2020 << 20 (RewardJoiner.IssuedUnixMs).
    private static ulong Id(int node, long unixSeconds, int n) => ((ulong)node << 52) | ((ulong)(unixSeconds - 1_577_836_800) << 20) + (ulong)n;

    [Fact]
    public void TakeImpressionAndReward_AfterSaveAndLoad_SecondDeliveryIsDropped()
    {
        var path = Path.Combine(Path.GetTempPath(), "es-dedupe-" + Guid.NewGuid().ToString("N"));
        try
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var first = new EventDedupe();
            var impression = new ImpressionRecord { EventId = Id(3, now, 1) };
            var reward = new RewardRecord { EventId = impression.EventId, TimestampMs = now * 1000 };
            Assert.True(first.TakeImpression(impression));
            Assert.True(first.TakeReward(reward));
            Assert.False(first.TakeImpression(impression));
            first.Save(path);

            var restarted = EventDedupe.Load(path);
            Assert.False(restarted.TakeImpression(impression));
            Assert.False(restarted.TakeReward(reward));
            Assert.True(restarted.TakeReward(reward with { TimestampMs = reward.TimestampMs + 1 })); // a second play is a new reward
            Assert.True(restarted.TakeImpression(new ImpressionRecord { EventId = Id(4, now, 1) })); // same sequence, other node
            Assert.Equal(1, restarted.DuplicateImpressions);
            Assert.Equal(1, restarted.DuplicateRewards);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Prune_ForgetsOnlyIdsIssuedBeforeTheHorizon()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var dedupe = new EventDedupe();
        var old = new ImpressionRecord { EventId = Id(1, now - (10 * 86_400), 7) };
        var recent = new ImpressionRecord { EventId = Id(1, now - 3600, 7) };
        dedupe.TakeImpression(old);
        dedupe.TakeImpression(recent);
        dedupe.Prune((now - (8 * 86_400)) * 1000);
        Assert.True(dedupe.TakeImpression(old));
        Assert.False(dedupe.TakeImpression(recent));
    }

    [Fact]
    public void Load_TruncatedFile_SaysSo()
    {
        var path = Path.Combine(Path.GetTempPath(), "es-dedupe-" + Guid.NewGuid().ToString("N"));
        try
        {
            var dedupe = new EventDedupe();
            dedupe.TakeImpression(new ImpressionRecord { EventId = 42 });
            dedupe.Save(path);
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^3]);
            var e = Assert.Throws<InvalidDataException>(() => EventDedupe.Load(path));
            Assert.Contains("truncated or corrupt", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
