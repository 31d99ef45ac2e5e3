using EdgeSelector.Core.Logging;
using EdgeSelector.Learning.Logging;

namespace EdgeSelector.Learning.Join;

/// <summary>
/// What counts as a take (docs/learning.md, "Labels"): a play that started and lasted at least
/// <see cref="MinMinutes"/> minutes or <see cref="MinFraction"/> of the title. A play that stops sooner is not a
/// take, so artwork that starts many short plays (click-bait) is not rewarded for them.
/// </summary>
public sealed record QualityPlayRule
{
    /// <summary>Minutes watched that make a play a quality play (default 10).</summary>
    public float MinMinutes { get; init; } = 10f;

    /// <summary>Fraction of the title completed that makes a play a quality play (default 0.25).</summary>
    public float MinFraction { get; init; } = 0.25f;

    /// <summary>True when the reward is a quality play under this rule.</summary>
    public bool IsQuality(in RewardRecord reward) =>
        reward.PlayStarted && (reward.MinutesWatched >= MinMinutes || reward.FractionCompleted >= MinFraction);
}

/// <summary>Options of the reward join.</summary>
public sealed record RewardJoinOptions
{
    /// <summary>How long after an impression a reward still counts (default 24 h).</summary>
    public TimeSpan AttributionWindow { get; init; } = TimeSpan.FromHours(24);

    /// <summary>The label rule.</summary>
    public QualityPlayRule Rule { get; init; } = new();

    /// <summary>A reward stamped this much before its impression is still taken (clock skew between machines).</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>One training example: an impression whose attribution window has closed, with its label.</summary>
/// <param name="Impression">The logged decision and its context.</param>
/// <param name="Label">True when a quality play was attributed to it within the window.</param>
/// <param name="PlayStarted">True when any play started (quality or not).</param>
public readonly record struct LabeledExample(ImpressionRecord Impression, bool Label, bool PlayStarted);

/// <summary>What the join saw: every record is counted once under exactly one outcome.</summary>
public sealed class JoinCounters
{
    /// <summary>Impressions of a bandit decision taken into the join.</summary>
    public long Impressions { get; set; }

    /// <summary>Impressions of a fallback (default image, no decision): not training data.</summary>
    public long Fallbacks { get; set; }

    /// <summary>Impressions seen twice (the same event id): the second is ignored.</summary>
    public long DuplicateImpressions { get; set; }

    /// <summary>Rewards attached to an impression inside its window.</summary>
    public long Rewards { get; set; }

    /// <summary>Further rewards for an event that already had one (combined: a take if any of them is).</summary>
    public long DuplicateRewards { get; set; }

    /// <summary>Rewards after their impression's window (ignored: the impression is, or will be, a negative).</summary>
    public long LateRewards { get; set; }

    /// <summary>
    /// Rewards for an event the join never saw by the time that event's window closed (a reward whose impression has
    /// not been read yet is held until then: the logs are read separately, and an impression may still have been in
    /// its group commit when its reward was logged).
    /// </summary>
    public long UnknownRewards { get; set; }

    /// <summary>Rewards stamped before their impression (beyond the clock-skew allowance).</summary>
    public long InvalidRewards { get; set; }

    /// <summary>Examples emitted with a positive label.</summary>
    public long Positives { get; set; }

    /// <summary>Examples emitted with a negative label.</summary>
    public long Negatives { get; set; }

    /// <summary>Negatives that had a play, just not a quality one (short plays).</summary>
    public long ShortPlays { get; set; }
}

/// <summary>
/// Joins impressions with rewards by event id inside the attribution window (docs/learning.md, "Reward join").
/// Impressions wait in memory until their window closes (<see cref="Close"/> with a watermark), then leave as
/// labelled examples: positive if a quality play was attributed to them, negative otherwise. Duplicate, late,
/// unknown and malformed rewards are counted, never thrown on. The pending set can be saved and restored
/// (<see cref="SavePending"/>, <see cref="LoadPending"/>) so a join spans several trainer runs.
/// </summary>
public sealed class RewardJoiner
{
    private const long EventIdEpochUnixSeconds = 1_577_836_800;

    private readonly Dictionary<ulong, Pending> _pending = [];
    private readonly Dictionary<ulong, List<RewardRecord>> _orphans = [];
    private readonly long _windowMs;
    private readonly long _skewMs;
    private readonly QualityPlayRule _rule;

    /// <summary>Creates a join with the given options.</summary>
    public RewardJoiner(RewardJoinOptions? options = null)
    {
        var o = options ?? new RewardJoinOptions();
        if (o.AttributionWindow <= TimeSpan.Zero)
        {
            throw new ArgumentException("the attribution window must be positive", nameof(options));
        }

        _windowMs = (long)o.AttributionWindow.TotalMilliseconds;
        _skewMs = (long)o.ClockSkew.TotalMilliseconds;
        _rule = o.Rule;
    }

    /// <summary>The counters so far.</summary>
    public JoinCounters Counters { get; private set; } = new();

    /// <summary>Impressions whose window is still open.</summary>
    public int PendingCount => _pending.Count;

    /// <summary>Rewards held for an impression not seen yet (their event's window is still open).</summary>
    public int OrphanRewardCount => _orphans.Values.Sum(l => l.Count);

    /// <summary>Takes an impression; fallbacks are counted and dropped.</summary>
    public void AddImpression(in ImpressionRecord impression)
    {
        if (impression.Fallback is not (FallbackReason.None or FallbackReason.NoProfile) || impression.CandidateCount == 0)
        {
            Counters.Fallbacks++;
            return;
        }

        if (!_pending.TryAdd(impression.EventId, new Pending { Impression = impression }))
        {
            Counters.DuplicateImpressions++;
            return;
        }

        Counters.Impressions++;
        if (_orphans.Remove(impression.EventId, out var early))
        {
            foreach (var reward in early)
            {
                AddReward(reward);
            }
        }
    }

    /// <summary>
    /// Takes every impression of a log entry (a page entry or a version-1 per-title record; docs/impression-log.md);
    /// false, and nothing taken, when the entry is not an impression entry this code can read.
    /// </summary>
    public bool AddEntry(ReadOnlySpan<byte> entry)
    {
        if (!ImpressionEntry.TryRead(entry, out var impressions))
        {
            return false;
        }

        foreach (var impression in impressions)
        {
            AddImpression(impression);
        }

        return true;
    }

    /// <summary>Takes a reward (in any order relative to other rewards; after its impression was added).</summary>
    public void AddReward(in RewardRecord reward)
    {
        if (!_pending.TryGetValue(reward.EventId, out var pending))
        {
            // The event id carries the second it was issued (docs/protocol.md): a reward for an event whose window
            // closed before the reward was observed is late; one with no id is unknown; anything else waits for its
            // impression until the event's window closes (then it is unknown).
            if (reward.EventId == 0)
            {
                Counters.UnknownRewards++;
            }
            else if (IssuedUnixMs(reward.EventId) + _windowMs + 1000 < reward.TimestampMs)
            {
                Counters.LateRewards++;
            }
            else
            {
                if (!_orphans.TryGetValue(reward.EventId, out var list))
                {
                    _orphans[reward.EventId] = list = [];
                }

                list.Add(reward);
            }

            return;
        }

        var sinceImpression = reward.TimestampMs - pending.Impression.TimestampMs;
        if (sinceImpression < -_skewMs || !float.IsFinite(reward.MinutesWatched) || !float.IsFinite(reward.FractionCompleted))
        {
            Counters.InvalidRewards++;
            return;
        }

        if (sinceImpression > _windowMs)
        {
            Counters.LateRewards++;
            return;
        }

        if (pending.Rewarded)
        {
            Counters.DuplicateRewards++;
        }
        else
        {
            Counters.Rewards++;
        }

        pending.Rewarded = true;
        pending.Quality |= _rule.IsQuality(reward);
        pending.Played |= reward.PlayStarted;
        pending.Reward = reward;
    }

    /// <summary>
    /// Emits every impression whose window has closed by <paramref name="watermarkMs"/> (impression time + window ≤
    /// watermark) as a labelled example, in event-id order, and forgets it.
    /// </summary>
    public List<LabeledExample> Close(long watermarkMs)
    {
        var closed = new List<LabeledExample>();
        List<ulong>? done = null;
        foreach (var (id, rewards) in _orphans)
        {
            // The impression can no longer be attributed: its window (measured from when its id was issued) closed.
            if (IssuedUnixMs(id) + 1000 + _windowMs <= watermarkMs)
            {
                (done ??= []).Add(id);
                Counters.UnknownRewards += rewards.Count;
            }
        }

        if (done is not null)
        {
            done.ForEach(id => _orphans.Remove(id));
            done = null;
        }

        foreach (var (id, p) in _pending)
        {
            if (p.Impression.TimestampMs + _windowMs > watermarkMs)
            {
                continue;
            }

            (done ??= []).Add(id);
        }

        if (done is null)
        {
            return closed;
        }

        done.Sort();
        foreach (var id in done)
        {
            var p = _pending[id];
            _pending.Remove(id);
            closed.Add(new LabeledExample(p.Impression, p.Quality, p.Played));
            if (p.Quality)
            {
                Counters.Positives++;
            }
            else
            {
                Counters.Negatives++;
                if (p.Played)
                {
                    Counters.ShortPlays++;
                }
            }
        }

        return closed;
    }

    /// <summary>Writes the impressions still waiting (and the rewards attached to them) to a record file.</summary>
    public void SavePending(string path)
    {
        var temp = path + ".tmp";
        using (var writer = new RecordFileWriter(temp))
        {
            foreach (var early in _orphans.Values)
            {
                foreach (var reward in early)
                {
                    writer.Append(reward);
                }
            }

            foreach (var p in _pending.Values)
            {
                writer.Append(p.Impression);
                if (p.Rewarded)
                {
                    // Write the combined outcome so a reload reproduces the label exactly.
                    var combined = p.Reward;
                    if (p.Quality && !_rule.IsQuality(combined))
                    {
                        combined.PlayStarted = true;
                        combined.MinutesWatched = Math.Max(combined.MinutesWatched, _rule.MinMinutes);
                    }

                    combined.PlayStarted |= p.Played;
                    writer.Append(combined);
                }
            }
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Restores impressions and rewards saved by <see cref="SavePending"/> (not counted again: the run that first saw them counted them).</summary>
    public void LoadPending(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var reader = new RecordFileReader(path);
        while (reader.TryRead(out var payload))
        {
            if (LogRecord.PeekKind(payload) == LogRecordKind.Reward)
            {
                if (RewardRecord.TryRead(payload, out var reward))
                {
                    AddReward(reward);
                }
            }
            else
            {
                AddEntry(payload);
            }
        }

        Counters = new JoinCounters();
    }

    /// <summary>The second an event id was issued, as unix ms (the server's event-id layout: 12-bit node, then seconds since 2020 &lt;&lt; 20).</summary>
    public static long IssuedUnixMs(ulong eventId) => (((long)(eventId & ((1UL << 52) - 1)) >> 20) + EventIdEpochUnixSeconds) * 1000;

    private sealed class Pending
    {
        public ImpressionRecord Impression;
        public RewardRecord Reward;
        public bool Rewarded;
        public bool Quality;
        public bool Played;
    }
}
