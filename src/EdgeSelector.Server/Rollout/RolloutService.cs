using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Diagnostics;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Serving;
using EdgeSelector.Storage.Models;
using Microsoft.Extensions.Logging;

namespace EdgeSelector.Server.Rollout;

/// <summary>
/// Safe rollout of a bundle (issue 15, docs/rollout.md): a candidate bundle is served to a sticky fraction of members
/// next to the active bundle (the control); every impression of either arm is remembered in a bounded in-memory index
/// so each reward this node takes is joined to its arm at once; an always-valid confidence sequence on the difference
/// of the arms' take fractions (and of their fallback fractions) rolls the candidate back when it is significantly
/// worse, or promotes it to active once the configured evidence says it is not worse. Every decision is logged,
/// persisted, counted in /metrics and listed by <c>GET /v1/rollout</c>. The candidate and its evidence survive a
/// restart (<c>&lt;DataDir&gt;/rollout</c>).
/// </summary>
/// <remarks>
/// Request path cost (<see cref="Current"/>, <see cref="CandidateBundle.Split"/>, <see cref="Record"/>): one volatile
/// read, one hash, three plain stores per title and two striped-counter adds per page; no lock, no allocation
/// (RolloutAllocationTests). Everything else (pushes, the test, persistence) runs under <see cref="_gate"/> off it.
/// </remarks>
internal sealed partial class RolloutService : IDisposable
{
    /// <summary>
    /// A promotion the model store answered Pending: finished by <see cref="EvaluateAsync"/> once it took effect or failed.
    /// Persisted (<see cref="PendingPromotionState"/>); <paramref name="Restored"/> when read back after a restart (the
    /// write it waited for died with the process unless the store had made it durable).
    /// </summary>
    private sealed record PendingPromotion(CandidateState Candidate, RolloutCounters Counters, string By, string Reason, bool Restored = false)
    {
        public ulong Version => Candidate.Version;
    }

    private const int MaxDecisionsKept = 100;

    private ILogger? _logger;
    private string? _resumed; // what was resumed at start, logged once the host's logger is set

    /// <summary>
    /// Where decisions are logged (set by the host once its loggers exist; decisions before that go to stderr). Setting it
    /// logs the trial resumed at start, if any.
    /// </summary>
    public ILogger? Logger
    {
        get => _logger;
        set
        {
            _logger = value;
            if (value is not null && Interlocked.Exchange(ref _resumed, null) is { } resumed)
            {
                NodeLog.RolloutResumed(value, resumed);
            }
        }
    }

    private readonly ModelStore _models;
    private readonly BundleService _bundles;
    private readonly byte[] _bundleKey;
    private readonly RolloutOptions _options;
    private readonly RolloutTestOptions _test;
    private readonly string _directory;
    // One control-plane call at a time, held across a promotion's awaited push (a SemaphoreSlim, not a lock: no pool
    // thread waits while the model store makes the promoted bundle durable; docs/performance.md, "Thread-pool floor").
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly StripedCounter _unjoined = new();
    private readonly long[] _decisionCounts = new long[DecisionActions.Length];
    private readonly Timer _timer;
    private RecentEvents? _events;
    private CandidateBundle? _current;
    private PendingPromotion? _pendingPromotion;
    private (ulong Version, string Reason)? _fleetPromotion; // the control plane promoted it; the bundle pointer brings it
    private List<RolloutDecision> _decisions = [];
    private int _nextId = 1;
    private long _lastPersistMs;
    private int _evaluating; // 1 while a timer evaluation runs: a tick that finds one running is skipped

    public RolloutService(ModelStore models, BundleService bundles, byte[] bundleKey, string dataDir, RolloutOptions options)
    {
        _models = models;
        _bundles = bundles;
        _bundleKey = bundleKey;
        _options = options.Validate();
        _test = _options.Test();
        _directory = Path.Combine(dataDir, "rollout");
        Directory.CreateDirectory(_directory);
        Restore();
        var interval = TimeSpan.FromMilliseconds(options.EvaluateIntervalMs);
        _timer = new Timer(static state => ((RolloutService)state!).Tick(), this, interval, interval);
    }

    /// <summary>The actions a decision can record (the label values of <c>edgeselector_rollout_decisions_total</c>).</summary>
    public static readonly string[] DecisionActions = ["started", "fraction", "promote", "promote_pending", "rollback", "superseded", "replaced", "promote_failed", "dropped"];

    /// <summary>The candidate being tried, or null (every member is served the active bundle). One volatile read.</summary>
    public CandidateBundle? Current => Volatile.Read(ref _current);

    /// <summary>The version of a promoted candidate the model store is still making durable (null: none).</summary>
    public ulong? PendingPromotionVersion => Volatile.Read(ref _pendingPromotion)?.Version;

    /// <summary>The configuration in force.</summary>
    public RolloutOptions Options => _options;

    /// <summary>
    /// Request path: remembers a page's events under its arm and counts its titles and fallbacks. Called once per page
    /// with the rollout the page was served under (read once at its start, so a page is counted where it was served).
    /// </summary>
    public void Record(CandidateBundle rollout, Arm arm, ReadOnlySpan<SelectResult> results, long unixMs)
    {
        var events = _events;
        if (events is null || results.IsEmpty)
        {
            return;
        }

        var tag = (rollout.Id << 1) | (int)arm;
        var fallbacks = 0;
        foreach (ref readonly var result in results)
        {
            events.Add(result.EventId, tag, unixMs);
            if (result.Reason is not (FallbackReason.None or FallbackReason.NoProfile))
            {
                fallbacks++;
            }
        }

        var counters = rollout.Counters;
        counters.Impressions(arm).Add(results.Length);
        if (fallbacks > 0)
        {
            counters.Fallbacks(arm).Add(fallbacks);
        }
    }

    /// <summary>
    /// Reward path: joins an accepted reward to its arm through the index (no log read) and counts it, and whether it
    /// is a take (a quality play: started, and at least <c>TakeMinMinutes</c> or <c>TakeMinFraction</c> of the title).
    /// </summary>
    public void OnReward(in RewardRequest reward)
    {
        var rollout = Current;
        var events = _events;
        if (rollout is null || events is null)
        {
            return;
        }

        if (!events.TryGet(reward.EventId, out var tag, out _))
        {
            _unjoined.Increment();
            return;
        }

        if (tag >> 1 != rollout.Id)
        {
            return; // an impression of an earlier candidate: not evidence about this one
        }

        var arm = (Arm)(tag & 1);
        rollout.Counters.Rewards(arm).Increment();
        if (reward.PlayStarted && (reward.MinutesWatched >= _options.TakeMinMinutes || reward.FractionCompleted >= _options.TakeMinFraction))
        {
            rollout.Counters.Takes(arm).Increment();
        }
    }

    /// <summary>
    /// Starts trying a signed bundle as the candidate for <paramref name="fraction"/> of members (null: the configured
    /// default). Refused, with nothing served changed, when the fraction is outside [0, 1] (400), the signature or a
    /// model fails (403/422), there is no active bundle, the candidate is not newer than the active bundle or the
    /// candidate already being tried, or its feature space differs from the active bundle's (409). A newer candidate
    /// replaces the one being tried. Answered only once the candidate is durable.
    /// </summary>
    public Task<RolloutOutcome> StartAsync(ReadOnlyMemory<byte> bytes, double? fraction, string by) => StartAsync(bytes, fraction, by, fleet: false);

    /// <summary>
    /// <see cref="StartAsync(ReadOnlyMemory{byte}, double?, string)"/>; a <paramref name="fleet"/> candidate (published by
    /// the control plane, docs/fleet.md) is not decided by this node's test: the control plane decides on the fleet's counts.
    /// </summary>
    public async Task<RolloutOutcome> StartAsync(ReadOnlyMemory<byte> bytes, double? fraction, string by, bool fleet)
    {
        var share = fraction ?? _options.DefaultFraction;
        if (!double.IsFinite(share) || share < 0 || share > 1)
        {
            return RolloutOutcome.Refused(400, $"fraction {share} is outside [0, 1]");
        }

        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            var active = _models.Version;
            if (!TryLoad(bytes, out var manifest, out var models, out var status, out var message))
            {
                return RolloutOutcome.Refused(status, message);
            }

            if (_pendingPromotion is { } pending)
            {
                return RolloutOutcome.Refused(409, $"the promotion of candidate {pending.Version} is waiting for the model store to make it durable; try again once it took effect");
            }

            if (active == 0)
            {
                return RolloutOutcome.Refused(409, "no active bundle: push one with PUT /v1/models first (a candidate is tried against it)");
            }

            if (manifest.Version <= active)
            {
                return RolloutOutcome.Refused(409, $"candidate version {manifest.Version} is not newer than the active version {active}");
            }

            var running = _current;
            if (running is not null && manifest.Version <= running.Version)
            {
                return RolloutOutcome.Refused(409, $"candidate version {manifest.Version} is not newer than the candidate being tried ({running.Version})");
            }

            if (!SameFeatureSpace(models, out message))
            {
                return RolloutOutcome.Refused(409, message);
            }

            var candidate = new CandidateBundle(_nextId++, manifest, bytes.ToArray(), models, share, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), new RolloutCounters(), fleet);
            _events ??= new RecentEvents(_options.RecentEvents);
            SaveCandidate(candidate);
            if (running is not null)
            {
                AddDecision(Decision(running, "replaced", by, $"replaced by candidate {candidate.Version}"));
            }

            Volatile.Write(ref _current, candidate);
            AddDecision(Decision(candidate, "started", by, $"candidate {candidate.Version} for {share:0.####} of members against active {active}"));
            SaveState();
            return RolloutOutcome.Ok("started", candidate.Version, share, active, $"candidate {candidate.Version} is served to {share:0.####} of members");
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Changes the candidate's share of members; members already in its arm stay there when it grows.</summary>
    public async Task<RolloutOutcome> SetFractionAsync(double? fraction, string by)
    {
        if (fraction is not { } share || !double.IsFinite(share) || share < 0 || share > 1)
        {
            return RolloutOutcome.Refused(400, fraction is null ? "send {\"fraction\": f} with f in [0, 1]" : $"fraction {fraction} is outside [0, 1]");
        }

        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_current is not { } running)
            {
                return RolloutOutcome.Refused(409, "no candidate is being tried");
            }

            var changed = running.WithFraction(share);
            Volatile.Write(ref _current, changed);
            AddDecision(Decision(changed, "fraction", by, $"fraction {running.Split.Fraction:0.####} -> {share:0.####}"));
            SaveState();
            return RolloutOutcome.Ok("fraction", changed.Version, share, _models.Version, $"candidate {changed.Version} is served to {share:0.####} of members");
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Stops the timer; the state on disk is already current. Blocks the calling thread (shutdown) until a control-plane
    /// call in progress has finished.
    /// </summary>
    public void Dispose()
    {
        _timer.Dispose();
        _gate.Wait();
        try
        {
            if (_current is not null)
            {
                SaveState(); // the evidence counted since the last periodic save
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}

/// <summary>The result of a rollout call: what the HTTP layer answers.</summary>
internal readonly record struct RolloutOutcome(bool Success, int Status, string Action, ulong CandidateVersion, double Fraction, ulong ActiveVersion, string Message)
{
    public static RolloutOutcome Ok(string action, ulong candidate, double fraction, ulong active, string message) => new(true, 200, action, candidate, fraction, active, message);

    /// <summary>202: the promotion is written and takes effect once the model store made it durable.</summary>
    public static RolloutOutcome Accepted(string action, ulong candidate, ulong active, string message) => new(true, 202, action, candidate, 0, active, message);

    public static RolloutOutcome Refused(int status, string message) => new(false, status, string.Empty, 0, 0, 0, message);
}
