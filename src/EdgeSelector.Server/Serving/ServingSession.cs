using EdgeSelector.Protocol;
using EdgeSelector.Server.Connections;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// One connection's serving state, whatever its protocol (Garnet's per-connection <c>StorageSession</c> shape): the
/// page scratch, the batch's clock (requests are shed by their age at arrival, <see cref="SheddingPolicy"/>), and
/// the REWARD answers waiting for their commit (<see cref="DurableReplies"/>). A protocol session brackets each batch
/// with <see cref="BeginBatch"/> and <see cref="EndBatch"/>: that is where per-batch work lives (today the clock; the
/// model and profile sessions, the pinned bundle generation, the epoch held across the batch and the counters folded
/// once per batch are meant to go there too).
/// </summary>
internal sealed class ServingSession
{
    private readonly SelectionService _selection;
    private readonly RewardService _rewards;
    private long _arrival;
    private long _now;

    public ServingSession(SelectionService selection, RewardService rewards, int maxTitlesPerPage, TimeSpan rewardCommitTimeout, Action wake)
    {
        _selection = selection;
        _rewards = rewards;
        Titles = new TitleCandidate[maxTitlesPerPage];
        Results = new SelectResult[maxTitlesPerPage];
        Replies = new DurableReplies(rewards, rewardCommitTimeout, wake);
    }

    /// <summary>Scratch for a page's titles (protocol parsers fill it).</summary>
    public TitleCandidate[] Titles { get; }

    /// <summary>Scratch for a page's results.</summary>
    public SelectResult[] Results { get; }

    /// <summary>REWARD answers waiting for their commit.</summary>
    public DurableReplies Replies { get; }

    /// <summary>The batch's clock reading (Stopwatch ticks).</summary>
    public long Now => _now;

    /// <summary>A batch starts: its clock and its requests' arrival.</summary>
    public void BeginBatch(in Batch batch)
    {
        _now = batch.Now;
        _arrival = batch.Arrival;
    }

    /// <summary>A batch ends.</summary>
    public void EndBatch()
    {
    }

    /// <summary>Decides the titles of one request (a SELECT is a page of one) into <paramref name="results"/>.</summary>
    public void Select(in RequestContext context, ReadOnlySpan<TitleCandidate> titles, Span<SelectResult> results) =>
        _selection.Select(in context, titles, results, _arrival);

    /// <summary>Decides one title.</summary>
    public SelectResult SelectOne(in RequestContext context, in TitleCandidate title)
    {
        var result = Results.AsSpan(0, 1);
        _selection.Select(in context, new ReadOnlySpan<TitleCandidate>(in title), result, _arrival);
        return result[0];
    }

    /// <summary>
    /// Records a reward. Returns false when the log cannot take it (answer <c>Unavailable</c> now); true with
    /// <paramref name="answerNow"/> false when the answer was queued until durable (<see cref="Replies"/>).
    /// </summary>
    public bool TryReward(ulong requestId, in RewardRequest reward, out RewardStatus status, out bool answerNow)
    {
        if (!_rewards.TryRecord(in reward, out status, out var durableAt))
        {
            answerNow = true;
            return false;
        }

        answerNow = _rewards.IsDurable(durableAt);
        if (!answerNow)
        {
            Replies.Add(requestId, reward.EventId, status, durableAt, _now);
        }

        return true;
    }
}
