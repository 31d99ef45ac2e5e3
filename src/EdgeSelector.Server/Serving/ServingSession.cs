using System.Diagnostics;
using EdgeSelector.Core.Features;
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
/// The profiles of a batch's SELECTs are read together, ahead of the requests (<see cref="ExpectProfile"/>,
/// <see cref="ReadProfiles"/>): a front door looks over the next whole requests it has buffered, names the members
/// whose profile a decision will need, and the reads are issued together, the ones that went to disk completed
/// together, once; each decision then takes its member's profile from that table (<see cref="TryGetProfile"/>).
/// </summary>
internal sealed class ServingSession : IDisposable
{
    /// <summary>
    /// SELECTs of one batch served on one clock reading before it is read again: requests queued behind earlier ones
    /// of a long batch are aged (shed) with a reading at most this many requests old (a page reads it at its start).
    /// </summary>
    internal const int RequestsPerClockReading = 32;

    /// <summary>
    /// Requests a front door looks ahead over to read their profiles together (at most the in-flight limit): a longer
    /// batch is read in chunks of this many, each just before its first request is served.
    /// </summary>
    internal const int ProfilesAhead = 64;

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

    // The profiles read ahead for the batch's next requests: member ids in request order, the profiles and found flags
    // ReadMany fills, how many are named and read (0 when none were, or the read threw), and the next unused one.
    private readonly ulong[] _aheadMembers = new ulong[ProfilesAhead];
    private readonly MemberProfile[] _aheadProfiles = new MemberProfile[ProfilesAhead];
    private readonly bool[] _aheadFound = new bool[ProfilesAhead];
    private int _aheadNamed;
    private int _aheadRead;
    private int _aheadNext;

    public ServingSession(SelectionService selection, RewardService rewards, int maxTitlesPerPage, TimeSpan rewardCommitTimeout, Action wake)
    {
        _selection = selection;
        _rewards = rewards;
        Titles = new TitleCandidate[maxTitlesPerPage];
        Results = new SelectResult[maxTitlesPerPage];
        Replies = new DurableReplies(rewards, rewardCommitTimeout, wake);
        Scorer = selection.CreateScorer();
    }

    /// <summary>Scratch for a page's titles (protocol parsers fill it).</summary>
    public TitleCandidate[] Titles { get; }

    /// <summary>Scratch for a page's results.</summary>
    public SelectResult[] Results { get; }

    /// <summary>The connection's page-scoring state, reset for each page (its reads' visitors hold only this reference).</summary>
    public PageScorer Scorer { get; }

    /// <summary>REWARD answers waiting for their commit.</summary>
    public DurableReplies Replies { get; }

    /// <summary>The batch's counters (folded into the shared metrics at <see cref="EndBatch"/>).</summary>
    public SessionCounters Counters { get; } = new();

    /// <summary>Profiles read ahead together since the session opened (tests: the batch's reads were issued together).</summary>
    internal long ProfilesReadAhead { get; private set; }

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
        _aheadNamed = _aheadRead = _aheadNext = 0;
        _allocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
    }

    /// <summary>
    /// A batch ends: the epochs are left and the pinned generation released (any pending read was completed by the
    /// read that issued it), then the batch's counters are folded into the shared metrics with the batch's latency.
    /// </summary>
    public void EndBatch()
    {
        _aheadNamed = _aheadRead = _aheadNext = 0;
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
    /// Names the member of one of the batch's next requests whose decision will read its stored profile (a SELECT or
    /// SELECT_PAGE without request genres), in request order, for the next <see cref="ReadProfiles"/>; the first call
    /// after a read starts a new table. False when the table is full (<see cref="ProfilesAhead"/>).
    /// </summary>
    public bool ExpectProfile(ulong memberId)
    {
        if (_aheadRead > 0 || _aheadNext > 0)
        {
            _aheadNamed = _aheadRead = _aheadNext = 0;
        }

        if (_aheadNamed == ProfilesAhead)
        {
            return false;
        }

        _aheadMembers[_aheadNamed++] = memberId;
        return true;
    }

    /// <summary>
    /// Reads the profiles named since the last read together (<see cref="ProfileReadSession.ReadMany"/>: every read
    /// issued, the ones that went to disk completed together, once), entering the stores for the batch. Nothing is
    /// read when the batch is already too old to serve (every request left in it will be shed without its profile),
    /// and a read that throws leaves each request to read its own (a member whose read throws again is not found).
    /// </summary>
    public void ReadProfiles()
    {
        var count = _aheadNamed;
        _aheadNamed = _aheadRead = _aheadNext = 0;
        if (count == 0 || _selection.Shedding.IsTooOld(_now, _arrival, 0, 0))
        {
            return;
        }

        try
        {
            var profiles = EnterProfiles();
            profiles.ReadMany(_aheadMembers.AsSpan(0, count), _aheadProfiles.AsSpan(0, count), _aheadFound.AsSpan(0, count));
            _aheadRead = count;
            ProfilesReadAhead += count;
        }
        catch (Exception)
        {
            // Each request reads its own profile (SelectionService.BuildMember: a read that throws is "not found"), or
            // gets its default images if the stores cannot be entered (SelectionService.Select: InternalError).
        }
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
    /// The stored profile of <paramref name="memberId"/> for the request being decided: the one read ahead for it
    /// (the next entry of the table for this member, in request order), else read now through <paramref name="profiles"/>.
    /// </summary>
    internal bool TryGetProfile(ProfileReadSession profiles, ulong memberId, out MemberProfile profile)
    {
        // Usually the entry at _aheadNext; a request named ahead that was not decided (shed, refused) is passed over.
        for (var i = _aheadNext; i < _aheadRead; i++)
        {
            if (_aheadMembers[i] == memberId)
            {
                _aheadNext = i + 1;
                profile = _aheadProfiles[i];
                return _aheadFound[i];
            }
        }

        return profiles.TryGet(memberId, out profile);
    }

    private ProfileReadSession EnterProfiles()
    {
        EnterStores(out var profiles);
        return profiles;
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
            if (FaultInjection.IsEnabled && _selection.FaultInjectionEnterStores)
            {
                FaultInjection.ThrowEnterFault(); // test-only, removed from the native binary with the switch
            }

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
