using System.Collections.Concurrent;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Security;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Storage.Impressions;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// Takes rewards (binary REWARD and POST /v1/rewards): checks the event tag first (a missing or wrong one is refused
/// before anything else), then that the event id is plausible (issued within the attribution window, not in the
/// future), drops duplicates seen recently, and appends a reward record to the durable reward log that the learning
/// loop joins with the impression log (docs/learning.md). An append is not yet durable: the caller answers
/// "accepted" only once the log's commit covers <c>durableAt</c> (<see cref="DurableReplies"/>, or
/// <see cref="WaitDurableAsync"/>), and calls <see cref="Forget"/> when it cannot.
/// </summary>
internal sealed class RewardService(ImpressionLog log, EventTagger tags, ServerMetrics metrics, TimeSpan attributionWindow)
{
    /// <summary><c>durableAt</c> when the answer needs no commit.</summary>
    public const long NothingToWaitFor = -1;

    private const int MaxRemembered = 1 << 20;

    private readonly ConcurrentDictionary<ulong, byte> _seen = new();
    private readonly ConcurrentQueue<ulong> _order = new();
    private readonly long _windowMs = (long)attributionWindow.TotalMilliseconds;

    /// <summary>The reward log (its commits make answers durable).</summary>
    public ImpressionLog Log => log;

    /// <summary>
    /// Records a reward. False when the reward log cannot take the record: answer ERROR <c>Unavailable</c> (HTTP 503);
    /// the event id is not remembered, so the retry is not a duplicate. True with the status to answer once the log's
    /// commit covers <paramref name="durableAt"/> (<see cref="NothingToWaitFor"/>: at once).
    /// </summary>
    public bool TryRecord(in RewardRequest reward, out RewardStatus status, out long durableAt)
    {
        durableAt = NothingToWaitFor;
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var issued = EventIds.ApproximateUnixMs(reward.EventId);
        if (!tags.Verify(reward.EventId, reward.EventTag))
        {
            // Checked first, before the duplicate filter and the log: a forged or guessed id never marks the genuine
            // reward as a duplicate, and needs no commit to answer (docs/protocol.md, "Event ids and tags").
            status = RewardStatus.Unverified;
        }
        else if (reward.EventId == 0 || issued > now + 3_600_000 || issued < now - _windowMs
            || !float.IsFinite(reward.MinutesWatched) || !float.IsFinite(reward.FractionCompleted))
        {
            status = RewardStatus.UnknownEvent;
        }
        else if (!_seen.TryAdd(reward.EventId, 0))
        {
            // "Already recorded" becomes true once everything appended so far is durable (the first one among it).
            status = RewardStatus.Duplicate;
            durableAt = log.TailAddress - 1;
        }
        else
        {
            _order.Enqueue(reward.EventId);
            while (_order.Count > MaxRemembered && _order.TryDequeue(out var old))
            {
                _seen.TryRemove(old, out _);
            }

            var record = new RewardRecord
            {
                EventId = reward.EventId,
                TimestampMs = reward.TimestampUnixMs != 0 ? reward.TimestampUnixMs : now,
                PlayStarted = reward.PlayStarted,
                MinutesWatched = reward.MinutesWatched,
                FractionCompleted = reward.FractionCompleted,
            };
            Span<byte> buffer = stackalloc byte[RewardRecord.Size];
            record.Write(buffer);
            bool appended;
            long address;
            try
            {
                appended = log.TryEnqueue(buffer, out address);
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or ObjectDisposedException)
            {
                appended = false;
                address = 0;
            }

            if (!appended)
            {
                // Full, or failed: forget the id so the caller's retry is not a "duplicate", and say so rather than lose it.
                _seen.TryRemove(reward.EventId, out _);
                metrics.RewardRefused();
                status = default;
                return false;
            }

            status = RewardStatus.Accepted;
            durableAt = address;
        }

        metrics.Reward(status);
        return true;
    }

    /// <summary>
    /// An accepted reward could not be made durable (commit timeout, closed connection): forget its event id, so a
    /// retry is recorded again rather than answered "duplicate" (a second record of one event is harmless: the join
    /// combines them, docs/learning.md).
    /// </summary>
    public void Forget(ulong eventId) => _seen.TryRemove(eventId, out _);

    /// <summary>True once the log's commit covers <paramref name="durableAt"/>.</summary>
    public bool IsDurable(long durableAt) => durableAt < 0 || log.IsCommitted(durableAt);

    /// <summary>Waits until the log's commit covers <paramref name="durableAt"/>; false after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitDurableAsync(long durableAt, TimeSpan timeout)
    {
        if (IsDurable(durableAt))
        {
            return true;
        }

        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await log.WaitForCommitAsync(durableAt, cancel.Token);
            return true;
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or IOException or ObjectDisposedException)
        {
            return IsDurable(durableAt);
        }
    }
}
