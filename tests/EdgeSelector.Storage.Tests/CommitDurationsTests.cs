using System.Diagnostics;
using EdgeSelector.Storage.Impressions;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>The group-commit durations a log reports for /metrics (edgeselector_log_commit_duration_seconds).</summary>
public sealed class CommitDurationsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Record_PutsEachDurationInTheFirstBucketWhoseBoundHoldsIt_AndKeepsSumAndMax()
    {
        var durations = new CommitDurations();
        var bounds = CommitDurations.BoundsSeconds.ToArray();
        Span<long> counts = stackalloc long[bounds.Length + 1];

        durations.Record(Ticks(0.0005));   // <= 1 ms
        durations.Record(Ticks(bounds[1])); // exactly on a bound: that bucket (le is inclusive)
        durations.Record(Ticks(0.2));      // (0.1, 0.5]
        durations.Record(Ticks(90));       // past the last bound: +Inf
        durations.Record(-5);              // a clock that went backwards counts as 0

        durations.CopyCounts(counts);
        Assert.Equal(2, counts[0]);
        Assert.Equal(1, counts[1]);
        Assert.Equal(1, counts[Array.IndexOf(bounds, 0.5)]);
        Assert.Equal(1, counts[bounds.Length]);
        Assert.Equal(5, durations.Count);
        Assert.Equal(0.0005 + bounds[1] + 0.2 + 90, durations.SumSeconds, 3);
        Assert.Equal(90, durations.MaxSeconds, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => durations.CopyCounts(new long[bounds.Length]));
    }

    [Fact]
    public async Task TheCommitter_RecordsEachGroupCommit_ThatMadeAppendsDurable()
    {
        using var log = ImpressionLog.Open(ImpressionLogTests.Options(_dir.Path));
        Assert.Equal(0, log.CommitDurations.Count);
        var record = new byte[ImpressionLogCrashHelper.RecordBytes];
        ImpressionLogCrashHelper.Fill(record, 1);
        Assert.True(log.TryEnqueue(record, out var address));
        await log.WaitForCommitAsync(address).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        // The committer records a commit right after it completes: a moment after the waiters above see it.
        for (var i = 0; i < 3_000 && log.CommitDurations.Count == 0; i++)
        {
            await Task.Delay(10);
        }

        var durations = log.CommitDurations;
        Assert.True(durations.Count >= 1, "no commit recorded");
        Assert.True(durations.SumSeconds > 0 && durations.MaxSeconds > 0 && durations.MaxSeconds <= durations.SumSeconds);
        var counts = new long[CommitDurations.BoundsSeconds.Length + 1];
        durations.CopyCounts(counts);
        Assert.Equal(durations.Count, counts.Sum());

        // Nothing appended: the committer's idle ticks commit nothing and record nothing.
        var before = durations.Count;
        await Task.Delay(100);
        Assert.Equal(before, durations.Count);
    }

    private static long Ticks(double seconds) => (long)(seconds * Stopwatch.Frequency);
}
