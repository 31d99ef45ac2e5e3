using EdgeSelector.Cli.Commands;
using EdgeSelector.Cli.Infrastructure;

namespace EdgeSelector.Cli.Tests;

/// <summary>Bundle versions and <c>train --as-of</c>.</summary>
public class TrainOptionsTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 14, 30, 5, TimeSpan.Zero);

    [Fact]
    public void NextVersion_FreshDirectory_IsTheUtcClockAndOutranksTheDemosBundleOne()
    {
        Assert.Equal(20261202143005ul, BundleVersions.Next(0, Now));
        Assert.True(BundleVersions.Next(0, Now) > 1);
    }

    [Fact]
    public void NextVersion_NewestAheadOfTheClock_NewestPlusOne()
    {
        Assert.Equal(20261202143006ul, BundleVersions.Next(20261202143005, Now));
        Assert.Equal(30000000000000ul, BundleVersions.Next(29999999999999, Now));
    }

    [Theory]
    [InlineData("1700000000000", 1700000000000L)]
    [InlineData("now", 0L)]
    [InlineData("+24h", 24L * 3600 * 1000)]
    [InlineData("now+24h", 24L * 3600 * 1000)]
    [InlineData("+90m", 90L * 60 * 1000)]
    [InlineData("+2d", 2L * 86400 * 1000)]
    public void AsOf_AbsoluteOrRelativeToNow(string text, long expected)
    {
        var ms = TrainCommand.ParseAsOf(text, Now);
        Assert.Equal(expected > 1_000_000_000_000 ? expected : Now.ToUnixTimeMilliseconds() + expected, ms);
    }

    [Fact]
    public void AsOf_IsoTime_IsUtcUnlessItSaysOtherwise() =>
        Assert.Equal(new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), TrainCommand.ParseAsOf("2026-12-03T00:00:00", Now));

    [Theory]
    [InlineData("tomorrow")]
    [InlineData("+24")]
    [InlineData("+xh")]
    [InlineData("+-3h")]
    public void AsOf_Unparseable_IsAUsageError(string text) =>
        Assert.Throws<UsageException>(() => TrainCommand.ParseAsOf(text, Now));
}
