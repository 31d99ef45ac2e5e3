using System.Diagnostics;

namespace EdgeSelector.Storage.Impressions;

/// <summary>
/// How long a log's group commits took, from the commit's start to its durability (the disk's flush included): a
/// histogram over fixed bounds (<see cref="BoundsSeconds"/>) with the sum and the longest, for /metrics. A REWARD is
/// answered only after the commit that holds it, so these are the floor of a reward's answer time, and a commit slower
/// than <c>RewardCommitTimeoutSeconds</c> shows here before it shows as <c>Unavailable</c> answers.
/// Recorded by the committer thread; read from any thread.
/// </summary>
public sealed class CommitDurations
{
    private static readonly double[] Bounds = [0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30];
    private readonly long[] _counts = new long[Bounds.Length + 1];
    private long _sumTicks;
    private long _maxTicks;

    /// <summary>Upper bounds of the buckets, in seconds (a last bucket, +Inf, holds the rest).</summary>
    public static ReadOnlySpan<double> BoundsSeconds => Bounds;

    /// <summary>Commits recorded.</summary>
    public long Count
    {
        get
        {
            long count = 0;
            for (var b = 0; b < _counts.Length; b++)
            {
                count += Volatile.Read(ref _counts[b]);
            }

            return count;
        }
    }

    /// <summary>Seconds all recorded commits took together.</summary>
    public double SumSeconds => Volatile.Read(ref _sumTicks) / (double)Stopwatch.Frequency;

    /// <summary>The longest recorded commit, in seconds (0 before the first).</summary>
    public double MaxSeconds => Volatile.Read(ref _maxTicks) / (double)Stopwatch.Frequency;

    /// <summary>Records a commit that took <paramref name="elapsedTicks"/> <see cref="Stopwatch"/> ticks.</summary>
    public void Record(long elapsedTicks)
    {
        elapsedTicks = Math.Max(0, elapsedTicks);
        var seconds = elapsedTicks / (double)Stopwatch.Frequency;
        var bucket = 0;
        while (bucket < Bounds.Length && seconds > Bounds[bucket])
        {
            bucket++;
        }

        Interlocked.Increment(ref _counts[bucket]);
        Interlocked.Add(ref _sumTicks, elapsedTicks);
        var max = Volatile.Read(ref _maxTicks);
        while (elapsedTicks > max && Interlocked.CompareExchange(ref _maxTicks, elapsedTicks, max) is var seen && seen != max)
        {
            max = seen;
        }
    }

    /// <summary>
    /// Copies the per-bucket (not cumulative) counts into <paramref name="counts"/>, which holds one more element than
    /// <see cref="BoundsSeconds"/>.
    /// </summary>
    public void CopyCounts(Span<long> counts)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(counts.Length, _counts.Length, nameof(counts));
        for (var b = 0; b < _counts.Length; b++)
        {
            counts[b] = Volatile.Read(ref _counts[b]);
        }
    }
}
