using System.Diagnostics;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// One connection's serving state, whatever its protocol (Garnet's per-connection <c>StorageSession</c> shape): its
/// own model-store and profile-store sessions, the page scratch, the batch's clock, the batch's counters, and the
/// REWARD answers waiting for their commit (<see cref="DurableReplies"/>). A protocol session brackets each batch with
/// <see cref="BeginBatch"/> and <see cref="EndBatch"/>; the first SELECT of a batch pins the model generation and
/// enters both stores' epochs, which are left, and the pin released, at <see cref="EndBatch"/> (so a push or a
/// rollback reclaims the old generation as soon as the batches that started before it end, busy or idle). The batch
/// must not await between the two: the epochs belong to the thread (PipelinedConnection flushes after EndBatch).
/// The counters are folded into <see cref="ServerMetrics"/> once per batch, which is also timed once.
/// </summary>
internal sealed class ServingSession : IDisposable
{
    /// <summary>
    /// SELECTs of one batch served on one clock reading before it is read again: requests queued behind earlier ones
    /// of a long batch are aged (shed) with a reading at most this many requests old (a page reads it at its start).
    /// </summary>
    internal const int RequestsPerClockReading = 32;

    private static readonly double TicksToMs = 1000.0 / Stopwatch.Frequency;

    private readonly SelectionService _selection;
    private readonly RewardService _rewards;
    private ModelReadSession<ScoringVisitor>? _models;
    private ProfileReadSession? _profiles;
    private bool _storesEntered;
    private long _arrival;
    private long _now;
    private long _batchStart;
    private long _batchUnixMs;
    private long _unixBaseTicks;
    private long _allocatedAtStart;
    private int _sinceClockReading;
    private bool _disposed;

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

    /// <summary>The batch's counters (folded into the shared metrics at <see cref="EndBatch"/>).</summary>
    public SessionCounters Counters { get; } = new();

    /// <summary>The batch's clock reading (Stopwatch ticks); a page of several titles moves it to its own start.</summary>
    public long Now => _now;

    /// <summary>When the server read the batch's oldest bytes (Stopwatch ticks): requests' age counts from here.</summary>
    public long Arrival => _arrival;

    /// <summary>A batch starts: its clock and its requests' arrival.</summary>
    public void BeginBatch(in Batch batch)
    {
        _now = batch.Now;
        _batchStart = batch.Now;
        _arrival = batch.Arrival;
        _batchUnixMs = 0;
        _sinceClockReading = 0;
        _allocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
    }

    /// <summary>
    /// A batch ends: the epochs are left and the pinned generation released (any pending read was completed by the
    /// read that issued it), then the batch's counters are folded into the shared metrics with the batch's latency.
    /// </summary>
    public void EndBatch()
    {
        if (_storesEntered)
        {
            _storesEntered = false;
            try
            {
                _profiles!.End();
            }
            finally
            {
                _models!.End();
            }
        }

        if (Counters.Any)
        {
            // One clock reading ends the batch: it times every request of it (an upper bound for each).
            var end = Stopwatch.GetTimestamp();
            _selection.Metrics.Fold(Counters, _batchStart, end, GC.GetAllocatedBytesForCurrentThread() - _allocatedAtStart);
        }
    }

    /// <summary>Counts a request of the batch (timed with the batch at <see cref="EndBatch"/>).</summary>
    public void Count(RequestKind kind) => Counters.Request(kind);

    /// <summary>Decides the titles of one request (a SELECT is a page of one) into <paramref name="results"/>.</summary>
    public void Select(in RequestContext context, ReadOnlySpan<TitleCandidate> titles, Span<SelectResult> results) =>
        _selection.Select(this, in context, titles, results);

    /// <summary>Decides one title.</summary>
    public SelectResult SelectOne(in RequestContext context, in TitleCandidate title)
    {
        var result = Results.AsSpan(0, 1);
        _selection.Select(this, in context, new ReadOnlySpan<TitleCandidate>(in title), result);
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

    /// <summary>Gives the store sessions back (the connection is gone; no batch is open).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        EndBatch();
        _profiles?.Dispose();
        _models?.Dispose();
    }

    /// <summary>
    /// A fresh clock reading, which becomes the batch's (a page reads the clock at its start: its deadline counts from
    /// there, and a request behind a long page in the same batch is aged from a reading after that page).
    /// </summary>
    internal long Tick()
    {
        _sinceClockReading = 0;
        return _now = Stopwatch.GetTimestamp();
    }

    /// <summary>The clock for one SELECT: the batch's reading, read again every <see cref="RequestsPerClockReading"/> requests.</summary>
    internal long ClockForRequest() => ++_sinceClockReading >= RequestsPerClockReading ? Tick() : _now;

    /// <summary>Unix milliseconds at <paramref name="ticks"/>: the wall clock is read once per batch, then advanced by the Stopwatch.</summary>
    internal long UnixMs(long ticks)
    {
        if (_batchUnixMs == 0)
        {
            _batchUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            _unixBaseTicks = _now;
        }

        return _batchUnixMs + (long)((ticks - _unixBaseTicks) * TicksToMs);
    }

    /// <summary>
    /// The model and profile sessions, entered for the rest of the batch: the first call of a batch pins the active
    /// model generation and enters both stores' epochs (created with the connection's first SELECT).
    /// </summary>
    internal ModelReadSession<ScoringVisitor> EnterStores(out ProfileReadSession profiles)
    {
        if (!_storesEntered)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _models ??= _selection.Models.OpenReadSession<ScoringVisitor>();
            _profiles ??= _selection.Profiles.OpenReadSession();
            _models.Begin();
            try
            {
                _profiles.Begin();
            }
            catch
            {
                _models.End();
                throw;
            }

            _storesEntered = true;
        }

        profiles = _profiles!;
        return _models!;
    }
}
