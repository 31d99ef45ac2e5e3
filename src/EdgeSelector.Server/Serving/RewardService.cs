using System.Collections.Concurrent;
using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// Takes rewards (binary REWARD and POST /v1/rewards); throws <see cref="InvalidOperationException"/> when the log cannot take one: checks the event tag (refusing
/// a missing or wrong one before anything else), that the event id is plausible (issued within the attribution
/// window, not in the future), drops duplicates seen recently, and appends a reward record to the durable reward log
/// that the learning loop joins with the impression log (docs/learning.md).
/// </summary>
internal sealed class RewardService
{

    private const int MaxRemembered = 1 << 20;

    private readonly ServerState _state;
    private readonly ConcurrentDictionary<ulong, byte> _seen = new();
    private readonly ConcurrentQueue<ulong> _order = new();

    private readonly long _windowMs;

    public RewardService(ServerState state)
    {
        _state = state;
        _windowMs = (long)TimeSpan.FromHours(state.Options.AttributionWindowHours).TotalMilliseconds;
    }

    public RewardStatus Record(in RewardRequest reward)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var issued = EventIds.ApproximateUnixMs(reward.EventId);
        RewardStatus status;
        if (!_state.EventTags.Verify(reward.EventId, reward.EventTag))
        {
            // Checked first, before the duplicate filter: a forged or guessed id never marks the genuine reward as a
            // duplicate (docs/protocol.md, "Event ids and tags").
            status = RewardStatus.Unverified;
        }
        else if (reward.EventId == 0 || issued > now + 3_600_000 || issued < now - _windowMs
            || !float.IsFinite(reward.MinutesWatched) || !float.IsFinite(reward.FractionCompleted))
        {
            status = RewardStatus.UnknownEvent;
        }
        else if (!_seen.TryAdd(reward.EventId, 0))
        {
            status = RewardStatus.Duplicate;
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
            if (!_state.Rewards.TryEnqueue(buffer, out _))
            {
                // The log could not take it (full, or failed): forget the id so the caller's retry is not a
                // "duplicate", and fail loudly rather than lose the reward.
                _seen.TryRemove(reward.EventId, out _);
                throw new InvalidOperationException("the reward log is not accepting records; retry");
            }

            status = RewardStatus.Accepted;
        }

        _state.Metrics.Reward(status);
        return status;
    }
}
