using System.Globalization;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Server.Diagnostics;
using EdgeSelector.Server.Serving;
using Microsoft.Extensions.Logging;

namespace EdgeSelector.Server.Rollout;

/// <summary>The sequential test and the decisions it drives (docs/rollout.md, "The test" and "Decisions").</summary>
internal sealed partial class RolloutService
{
    /// <summary>How often the evidence is saved while a candidate runs (it is also saved with every decision).</summary>
    private const long PersistEveryMs = 5_000;

    /// <summary>
    /// One look at the evidence: ends a candidate superseded by a newer active bundle; with <c>AutoDecide</c>, rolls
    /// back a candidate that is significantly worse (or falls back more), and promotes one that is not worse after the
    /// configured evidence. Runs on a timer every <c>EvaluateIntervalMs</c>; the test stays valid however often it looks.
    /// A promotion awaits the model store's push (no thread is held while the disk writes).
    /// </summary>
    public async Task<RolloutDecision?> EvaluateAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_pendingPromotion is { } pending)
            {
                return FinishPendingPromotion(pending);
            }

            if (_current is not { } candidate)
            {
                return null;
            }

            var active = _models.Version;
            if (candidate.Fleet && active == candidate.Version)
            {
                // The fleet's bundle pointer made the candidate active: the control plane's promotion (its reason, if
                // this node saw the candidate pointer's "promoted" first).
                var reason = _fleetPromotion is { } promoted && promoted.Version == candidate.Version
                    ? promoted.Reason
                    : $"the fleet's bundle pointer made the candidate {candidate.Version} the active bundle";
                _fleetPromotion = null;
                return End(candidate, "promote", "fleet", reason);
            }

            if (active >= candidate.Version)
            {
                return End(candidate, "superseded", "auto", $"the active bundle {active} is not older than the candidate {candidate.Version} (pushed as active meanwhile)");
            }

            // A fleet candidate is decided by the control plane on the fleet's counts (docs/rollout.md, "Fleet").
            if (_options.AutoDecide && !candidate.Fleet)
            {
                var judgement = Judge(candidate);
                switch (judgement.Action)
                {
                    case RolloutAction.Rollback:
                        return End(candidate, "rollback", "auto", judgement.Reason);
                    case RolloutAction.Promote:
                        return await PromoteAsync(candidate, "auto", judgement.Reason).ConfigureAwait(false);
                }
            }

            var now = Environment.TickCount64;
            if (now - _lastPersistMs >= PersistEveryMs)
            {
                _lastPersistMs = now;
                SaveState();
            }

            return null;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The control plane's decision on a fleet candidate (<c>bundle.candidate</c> moved to promoted or rolled back,
    /// docs/fleet.md): a rollback ends the trial at once; a promotion is recorded when the fleet's bundle pointer (moved
    /// to the candidate by the control plane) has made it active here. 409 when this node does not try that candidate.
    /// </summary>
    public async Task<RolloutOutcome> FleetDecisionAsync(ulong version, bool promote, string reason)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_current is not { } candidate || candidate.Version != version)
            {
                return RolloutOutcome.Refused(409, $"candidate {version} is not being tried on this node");
            }

            if (promote)
            {
                // The fleet's bundle pointer carries the promotion (the control plane moves it right after this value):
                // the node keeps serving the candidate to its arm until the pointer's bundle is applied, then records
                // the promotion with this reason (Evaluate). One write to the model store, by the bundle follower.
                _fleetPromotion = (version, reason);
                return RolloutOutcome.Ok("promote_pending", version, candidate.Split.Fraction, _models.Version, reason);
            }

            End(candidate, "rollback", "fleet", reason);
            return RolloutOutcome.Ok("rollback", version, 0, _models.Version, reason);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Promotes the candidate now (an operator's call): 200 promoted, 202 pending on the disk; 409 when none is being
    /// tried or the model store refused. Completes once the model store answered (no thread is held while it writes).
    /// </summary>
    public async Task<RolloutOutcome> PromoteNowAsync(string by)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_current is not { } candidate)
            {
                return RolloutOutcome.Refused(409, "no candidate is being tried");
            }

            var decision = await PromoteAsync(candidate, by, "promoted by an operator").ConfigureAwait(false);
            return decision.Action switch
            {
                "promote" => RolloutOutcome.Ok("promote", candidate.Version, candidate.Split.Fraction, _models.Version, $"candidate {candidate.Version} is now the active bundle"),
                "promote_pending" => RolloutOutcome.Accepted("promote_pending", candidate.Version, _models.Version, decision.Reason),
                _ => RolloutOutcome.Refused(409, decision.Reason),
            };
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Rolls the candidate back now (an operator's call); 409 when none is being tried.</summary>
    public async Task<RolloutOutcome> RollbackNowAsync(string by, string? reason)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_current is not { } candidate)
            {
                return RolloutOutcome.Refused(409, "no candidate is being tried");
            }

            End(candidate, "rollback", by, string.IsNullOrWhiteSpace(reason) ? "rolled back by an operator" : reason);
            return RolloutOutcome.Ok("rollback", candidate.Version, 0, _models.Version, $"candidate {candidate.Version} rolled back; every member is served the active bundle {_models.Version}");
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// <see cref="Status"/> read under the gate: a decision in progress (a promotion awaiting the model store, which
    /// has already ended the trial) finishes first, so the candidate and the decisions are read as one state and a
    /// reader never sees the candidate gone with no decision that ended it (what <c>GET /v1/rollout</c> answers).
    /// </summary>
    public async Task<RolloutStatus> StatusAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            return Status();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The candidate, both arms' take fractions with intervals, the test, the decisions. Allocates: admin use. Does not
    /// wait for a decision in progress (<see cref="StatusAsync"/> does): for callers that hold the gate or run alone.
    /// </summary>
    public RolloutStatus Status()
    {
        var candidate = Current;
        var active = _models.Version;
        List<RolloutDecision> decisions = [.. Volatile.Read(ref _decisions)]; // replaced, never changed in place: no gate needed

        var settings = new RolloutSettings
        {
            AutoDecide = _options.AutoDecide,
            Alpha = _options.Alpha,
            MixtureTau = _options.MixtureTau,
            MinImpressionsPerArm = _options.MinImpressionsPerArm,
            PromoteAfterImpressions = _options.PromoteAfterImpressions,
            NonInferiorityMargin = _options.NonInferiorityMargin,
            FallbackMargin = _options.FallbackMargin,
            RecentEvents = _options.RecentEvents,
        };
        if (candidate is null)
        {
            return new RolloutStatus { ActiveVersion = active, PromotionPending = PendingPromotionVersion, RewardsUnjoined = _unjoined.Value, Decisions = decisions, Settings = settings };
        }

        return new RolloutStatus
        {
            ActiveVersion = active,
            Candidate = new CandidateInfo
            {
                Version = candidate.Version,
                ParentVersion = candidate.Manifest.ParentVersion,
                Fraction = candidate.Split.Fraction,
                Full = candidate.Full,
                Titles = candidate.Models.Count,
                StartedAtMs = candidate.StartedAtMs,
                KeyId = candidate.Manifest.KeyId,
                DecidedBy = candidate.Fleet ? "fleet" : "node",
            },
            Arms = [ArmOf(candidate, Arm.Control, active), ArmOf(candidate, Arm.Candidate, candidate.Version)],
            Test = TestOf(Judge(candidate)),
            RewardsUnjoined = _unjoined.Value,
            Decisions = decisions,
            Settings = settings,
        };
    }

    /// <summary>The always-valid intervals of candidate − control and what they say (Core's test, shared with the control plane).</summary>
    private RolloutJudgement Judge(CandidateBundle candidate) => Judge(candidate.Counters);

    private RolloutJudgement Judge(RolloutCounters counters) =>
        RolloutTest.Judge(counters.Read(Arm.Control), counters.Read(Arm.Candidate), _test);

    private static TestStatus TestOf(RolloutJudgement judgement) => new()
    {
        TakeDifference = Finite(judgement.Take.Estimate),
        TakeDifferenceLow = Finite(judgement.Take.Low),
        TakeDifferenceHigh = Finite(judgement.Take.High),
        FallbackDifference = Finite(judgement.Fallback.Estimate),
        FallbackDifferenceLow = Finite(judgement.Fallback.Low),
        FallbackDifferenceHigh = Finite(judgement.Fallback.High),
        Verdict = judgement.VerdictName,
        ImpressionsToPromotion = judgement.ImpressionsToPromotion,
    };

    private static ArmStatus ArmOf(CandidateBundle candidate, Arm arm, ulong version)
    {
        var counts = candidate.Counters.Read(arm);
        var take = ConfidenceSequence.Wilson(counts.Takes, counts.Impressions);
        return new ArmStatus
        {
            Arm = arm == Arm.Control ? "control" : "candidate",
            BundleVersion = version,
            Impressions = counts.Impressions,
            Fallbacks = counts.Fallbacks,
            Rewards = counts.Rewards,
            Takes = counts.Takes,
            TakeFraction = Finite(take.Estimate),
            TakeFractionLow = Finite(take.Low),
            TakeFractionHigh = Finite(take.High),
            FallbackFraction = counts.Impressions > 0 ? (double)counts.Fallbacks / counts.Impressions : null,
        };
    }

    // Under _gate, held across the awaited push. Applies the candidate through the same path as PUT /v1/models
    // (signature, every model, version, atomic generation swap), then ends the trial. A push the store answers Pending
    // (written, not yet durable) takes effect later, when the disk takes it: recorded as promote_pending now (and
    // persisted, so it survives a restart) and finished (promote, or promote_failed if the store undid it) by the
    // evaluation that sees the active version reach the candidate's.
    private async Task<RolloutDecision> PromoteAsync(CandidateBundle candidate, string by, string reason)
    {
        // The trial ends before the bundle becomes active: no page sees "control" served from the promoted bundle
        // while the candidate still counts as running.
        Volatile.Write(ref _current, null);
        var outcome = await _bundles.ApplyAsync(candidate.Bytes, force: false).ConfigureAwait(false);
        if (outcome.Ok)
        {
            return End(candidate, "promote", by, reason);
        }

        if (outcome.Kind == BundleResultKind.Pending)
        {
            _pendingPromotion = new PendingPromotion(StateOf(candidate), candidate.Counters, by, reason);
            var decision = Decision(candidate, "promote_pending", by, $"{reason}; the model store has not made the bundle durable yet ({outcome.Message}): promoted once it takes effect");
            AddDecision(decision);
            SaveState();
            return decision;
        }

        return End(candidate, "promote_failed", by, $"promotion refused by the model store ({outcome.Kind}): {outcome.Message}");
    }

    // Under _gate: the promotion answered Pending has taken effect (promote), was overtaken by a newer bundle
    // (superseded), or failed and was undone (promote_failed: the store has no write pending and the version did not move).
    // One restored after a restart is finished by the first evaluation: the store's write did not outlive the process,
    // so the candidate is active only if the store made it durable before the stop.
    private RolloutDecision? FinishPendingPromotion(PendingPromotion pending)
    {
        var stillWaiting = _models.PendingWrite is not null; // read before the version: the store sets the version, then clears this
        var active = _models.Version;
        var version = pending.Version;
        if (active == version)
        {
            _pendingPromotion = null;
            var how = pending.Restored ? "took effect: the model store made it durable before the node restarted" : "took effect once the model store made it durable";
            return End(version, pending.Counters, "promote", pending.By, $"{pending.Reason} ({how})");
        }

        if (active > version)
        {
            _pendingPromotion = null;
            return End(version, pending.Counters, "superseded", pending.By, $"the active bundle {active} was pushed while the promotion of {version} waited for the disk");
        }

        if (!stillWaiting || pending.Restored)
        {
            _pendingPromotion = null;
            var why = pending.Restored
                ? $"the node restarted before the model store made candidate {version} durable (a write not durable at a stop is not kept)"
                : $"the model store could not make candidate {version} durable and undid it";
            return End(version, pending.Counters, "promote_failed", pending.By, $"{why}; the active bundle stays {active}");
        }

        return null;
    }

    private RolloutDecision End(CandidateBundle candidate, string action, string by, string reason) =>
        End(candidate.Version, candidate.Counters, action, by, reason);

    // Under _gate: every member goes to the active bundle at once (the next page reads null), the decision is
    // logged, counted and persisted, and the candidate's file is deleted.
    private RolloutDecision End(ulong version, RolloutCounters counters, string action, string by, string reason)
    {
        var decision = Decision(version, counters, action, by, reason);
        if (action == "promote")
        {
            decision = decision with { ActiveVersion = _models.Version };
        }

        Volatile.Write(ref _current, null);
        AddDecision(decision);
        SaveState();
        DeleteCandidateFile();
        return decision;
    }

    private RolloutDecision Decision(CandidateBundle candidate, string action, string by, string reason) =>
        Decision(candidate.Version, candidate.Counters, action, by, reason);

    private RolloutDecision Decision(ulong version, RolloutCounters counters, string action, string by, string reason)
    {
        var take = TestOf(Judge(counters));
        return new RolloutDecision
        {
            AtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Action = action,
            By = by,
            CandidateVersion = version,
            ActiveVersion = _models.Version,
            Reason = reason,
            ControlImpressions = counters.Impressions(Arm.Control).Value,
            CandidateImpressions = counters.Impressions(Arm.Candidate).Value,
            TakeDifference = take.TakeDifference,
            TakeDifferenceLow = take.TakeDifferenceLow,
            TakeDifferenceHigh = take.TakeDifferenceHigh,
        };
    }

    private void AddDecision(RolloutDecision decision)
    {
        _decisions = [.. _decisions.TakeLast(MaxDecisionsKept - 1), decision];
        var index = Array.IndexOf(DecisionActions, decision.Action);
        if (index >= 0)
        {
            Interlocked.Increment(ref _decisionCounts[index]);
        }

        if (Logger is { } logger)
        {
            NodeLog.RolloutDecision(logger, decision.Action, decision.By, decision.CandidateVersion, decision.ActiveVersion, decision.Reason);
        }
        else
        {
            Console.Error.WriteLine($"edgeselector: rollout {decision.Action} ({decision.By}) candidate {decision.CandidateVersion}, active {decision.ActiveVersion}: {decision.Reason}");
        }
    }

    // The timer's callback: starts an evaluation unless one is still running (a promotion awaiting the disk), so ticks
    // never queue up behind the gate.
    private void Tick()
    {
        if (Interlocked.Exchange(ref _evaluating, 1) == 0)
        {
            _ = TickAsync();
        }
    }

    private async Task TickAsync()
    {
        try
        {
            await EvaluateAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A timer's evaluation must not throw (unobserved); the failure is logged and the next tick tries again.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Console.Error.WriteLine($"edgeselector: rollout evaluation failed: {e.Message}");
        }
        finally
        {
            Volatile.Write(ref _evaluating, 0);
        }
    }

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}
