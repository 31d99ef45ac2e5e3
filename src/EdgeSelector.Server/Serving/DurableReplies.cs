using System.Diagnostics;
using EdgeSelector.Protocol;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// One connection's REWARD answers that wait for the reward log's group commit (PLAN decision 5: answers may go out
/// of order, so the SELECTs pipelined behind a REWARD are answered at once). Used from the connection's loop only;
/// one commit waiter at a time wakes the loop (<c>wake</c>) when the commit it waited for lands, and the heartbeat
/// wakes it for answers that waited longer than the commit timeout: those are answered <c>Unavailable</c> (retry)
/// and their event ids forgotten. The heartbeat also wakes the loop when a queued answer's commit has landed
/// (<see cref="HasDue"/>): a wake-up the waiter could not give (its wait failed) then costs at most a heartbeat, not
/// the commit timeout.
/// </summary>
internal sealed class DurableReplies(RewardService rewards, TimeSpan commitTimeout, Action wake)
{
    private readonly long _timeoutTicks = (long)(commitTimeout.TotalSeconds * Stopwatch.Frequency);
    private Pending[] _pending = new Pending[16];
    private Reply[] _ready = new Reply[16];
    private int _count;
    private long _waitingFor = -1;
    private long _oldestSince = long.MaxValue;
    private long _lowestDurableAt = long.MaxValue;
    private volatile bool _waiterFailed;

    /// <summary>Answers are waiting.</summary>
    public bool IsEmpty => _count == 0;

    /// <summary>Queues the answer to request <paramref name="requestId"/>, to be given once <paramref name="durableAt"/> is durable.</summary>
    public void Add(ulong requestId, ulong eventId, RewardStatus status, long durableAt, long now)
    {
        if (_count == _pending.Length)
        {
            Array.Resize(ref _pending, _count * 2);
            Array.Resize(ref _ready, _count * 2);
        }

        _pending[_count++] = new Pending(requestId, eventId, status, durableAt, now);
        if (_count == 1)
        {
            Volatile.Write(ref _oldestSince, now);
        }

        if (durableAt < Volatile.Read(ref _lowestDurableAt))
        {
            Volatile.Write(ref _lowestDurableAt, durableAt);
        }

        EnsureWaiter();
    }

    /// <summary>
    /// Takes the answers that are due at <paramref name="now"/>: durable ones with their status, and ones older than
    /// the commit timeout as <see cref="Reply.Unavailable"/>. The span is valid until the next call.
    /// </summary>
    public ReadOnlySpan<Reply> TakeReady(long now)
    {
        if (_count == 0)
        {
            return default;
        }

        var ready = 0;
        var kept = 0;
        var oldest = long.MaxValue;
        var lowest = long.MaxValue;
        for (var i = 0; i < _count; i++)
        {
            var p = _pending[i];
            if (rewards.IsDurable(p.DurableAt))
            {
                _ready[ready++] = new Reply(p.RequestId, p.Status, Unavailable: false);
            }
            else if (now - p.Since > _timeoutTicks)
            {
                if (p.Status == RewardStatus.Accepted)
                {
                    rewards.Forget(p.EventId);
                }

                _ready[ready++] = new Reply(p.RequestId, p.Status, Unavailable: true);
            }
            else
            {
                _pending[kept++] = p;
                oldest = Math.Min(oldest, p.Since);
                lowest = Math.Min(lowest, p.DurableAt);
            }
        }

        _count = kept;
        Volatile.Write(ref _oldestSince, oldest);
        Volatile.Write(ref _lowestDurableAt, lowest);
        EnsureWaiter();
        return _ready.AsSpan(0, ready);
    }

    /// <summary>
    /// True when an answer is due (any thread: the heartbeat asks): one has waited longer than the commit timeout, or
    /// the commit of one has landed and the loop has not answered it yet.
    /// </summary>
    public bool HasDue(long now) =>
        now - Volatile.Read(ref _oldestSince) > _timeoutTicks
        || (Volatile.Read(ref _lowestDurableAt) is var lowest && lowest != long.MaxValue && rewards.IsDurable(lowest));

    /// <summary>Waits (at most the commit timeout) until every queued answer is durable.</summary>
    public async ValueTask WaitAllAsync()
    {
        var last = -1L;
        for (var i = 0; i < _count; i++)
        {
            last = Math.Max(last, _pending[i].DurableAt);
        }

        if (last >= 0)
        {
            await rewards.WaitDurableAsync(last, TimeSpan.FromSeconds(_timeoutTicks / (double)Stopwatch.Frequency));
        }
    }

    /// <summary>The connection closed with answers owed: forget their event ids (the client will retry).</summary>
    public void Abandon()
    {
        for (var i = 0; i < _count; i++)
        {
            if (_pending[i].Status == RewardStatus.Accepted && !rewards.IsDurable(_pending[i].DurableAt))
            {
                rewards.Forget(_pending[i].EventId);
            }
        }

        _count = 0;
        Volatile.Write(ref _oldestSince, long.MaxValue);
        Volatile.Write(ref _lowestDurableAt, long.MaxValue);
    }

    // One waiter per connection at a time, for the newest address: a group commit that covers it covers the rest. A
    // waiter whose wait failed is replaced at the next batch (or heartbeat wake-up) that still has answers queued.
    private void EnsureWaiter()
    {
        var newest = -1L;
        for (var i = 0; i < _count; i++)
        {
            newest = Math.Max(newest, _pending[i].DurableAt);
        }

        if (newest > _waitingFor || (_count > 0 && _waiterFailed))
        {
            _waiterFailed = false;
            _waitingFor = newest;
            _ = WaitThenWakeAsync(newest);
        }
    }

    private async Task WaitThenWakeAsync(long address)
    {
        try
        {
            await rewards.Log.WaitForCommitAsync(address);
        }
#pragma warning disable CA1031 // Nobody observes this task: any failure (the log closing, a failed commit) is recorded, and the heartbeat answers (HasDue).
        catch (Exception)
#pragma warning restore CA1031
        {
            _waiterFailed = true;
            return;
        }

        wake();
    }

    private readonly record struct Pending(ulong RequestId, ulong EventId, RewardStatus Status, long DurableAt, long Since);
}

/// <summary>A deferred answer that is due: the reward's status, or <c>Unavailable</c> (answer ERROR 36: retry).</summary>
internal readonly record struct Reply(ulong RequestId, RewardStatus Status, bool Unavailable);
