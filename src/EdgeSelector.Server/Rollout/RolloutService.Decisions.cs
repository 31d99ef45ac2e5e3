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
    /// </summary>
    public RolloutDecision? Evaluate()
    {
        lock (_lock)
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
                        return Promote(candidate, "auto", judgement.Reason);
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
    }

    /// <summary>
    /// The control plane's decision on a fleet candidate (<c>bundle.candidate</c> moved to promoted or rolled back,
    /// docs/fleet.md): a rollback ends the trial at once; a promotion is recorded when the fleet's bundle pointer (moved
    /// to the candidate by the control plane) has made it active here. 409 when this node does not try that candidate.
    /// </summary>
    public RolloutOutcome FleetDecision(ulong version, bool promote, string reason)
    {
        lock (_lock)
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
    }

    /// <summary>Promotes the candidate now (an operator's call); 409 when none is being tried.</summary>
    public RolloutOutcome PromoteNow(string by)
    {
        lock (_lock)
        {
            if (_current is not { } candidate)
            {
                return RolloutOutcome.Refused(409, "no candidate is being tried");
            }

            var decision = Promote(candidate, by, "promoted by an operator");
            return decision.Action switch
            {
                "promote" => RolloutOutcome.Ok("promote", candidate.Version, candidate.Split.Fraction, _models.Version, $"candidate {candidate.Version} is now the active bundle"),
                "promote_pending" => RolloutOutcome.Accepted("promote_pending", candidate.Version, _models.Version, decision.Reason),
                _ => RolloutOutcome.Refused(409, decision.Reason),
            };
        }
    }

    /// <summary>Rolls the candidate back now (an operator's call); 409 when none is being tried.</summary>
    public RolloutOutcome RollbackNow(string by, string? reason)
    {
        lock (_lock)
        {
            if (_current is not { } candidate)
            {
                return RolloutOutcome.Refused(409, "no candidate is being tried");
            }

            End(candidate, "rollback", by, string.IsNullOrWhiteSpace(reason) ? "rolled back by an operator" : reason);
            return RolloutOutcome.Ok("rollback", candidate.Version, 0, _models.Version, $"candidate {candidate.Version} rolled back; every member is served the active bundle {_models.Version}");
        }
    }

    /// <summary>The candidate, both arms' take fractions with intervals, the test, the decisions. Allocates: admin use.</summary>
    public RolloutStatus Status()
    {
        var candidate = Current;
        var active = _models.Version;
        List<RolloutDecision> decisions;
        lock (_lock)
        {
            decisions = [.. _decisions];
        }

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
    private RolloutJudgement Judge(CandidateBundle candidate) =>
        RolloutTest.Judge(candidate.Counters.Read(Arm.Control), candidate.Counters.Read(Arm.Candidate), _test);

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

    // Under _lock. Applies the candidate through the same path as PUT /v1/models (signature, every model, version,
    // atomic generation swap), then ends the trial. A push the store answers Pending (written, not yet durable) takes
    // effect later, when the disk takes it: recorded as promote_pending now and finished (promote, or promote_failed
    // if the store undid it) by the evaluation that sees the active version reach the candidate's.
    private RolloutDecision Promote(CandidateBundle candidate, string by, string reason)
    {
        // The trial ends before the bundle becomes active: no page sees "control" served from the promoted bundle
        // while the candidate still counts as running.
        Volatile.Write(ref _current, null);
        var outcome = _bundles.Apply(candidate.Bytes, force: false);
        if (outcome.Ok)
        {
            return End(candidate, "promote", by, reason);
        }

        if (outcome.Kind == BundleResultKind.Pending)
        {
            _pendingPromotion = new PendingPromotion(candidate, by, reason);
            var decision = Decision(candidate, "promote_pending", by, $"{reason}; the model store has not made the bundle durable yet ({outcome.Message}): promoted once it takes effect");
            AddDecision(decision);
            SaveState();
            return decision;
        }

        return End(candidate, "promote_failed", by, $"promotion refused by the model store ({outcome.Kind}): {outcome.Message}");
    }

    // Under _lock: the promotion answered Pending has taken effect (promote), was overtaken by a newer bundle
    // (superseded), or failed and was undone (promote_failed: the store has no write pending and the version did not move).
    private RolloutDecision? FinishPendingPromotion(PendingPromotion pending)
    {
        var stillWaiting = _models.PendingWrite is not null; // read before the version: the store sets the version, then clears this
        var active = _models.Version;
        var candidate = pending.Candidate;
        if (active == candidate.Version)
        {
            _pendingPromotion = null;
            return End(candidate, "promote", pending.By, $"{pending.Reason} (took effect once the model store made it durable)");
        }

        if (active > candidate.Version)
        {
            _pendingPromotion = null;
            return End(candidate, "superseded", pending.By, $"the active bundle {active} was pushed while the promotion of {candidate.Version} waited for the disk");
        }

        if (!stillWaiting)
        {
            _pendingPromotion = null;
            return End(candidate, "promote_failed", pending.By, $"the model store could not make candidate {candidate.Version} durable and undid it; the active bundle stays {active}");
        }

        return null;
    }

    // Under _lock: every member goes to the active bundle at once (the next page reads null), the decision is
    // logged, counted and persisted, and the candidate's file is deleted.
    private RolloutDecision End(CandidateBundle candidate, string action, string by, string reason)
    {
        var decision = Decision(candidate, action, by, reason);
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

    private RolloutDecision Decision(CandidateBundle candidate, string action, string by, string reason)
    {
        var take = TestOf(Judge(candidate));
        return new RolloutDecision
        {
            AtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Action = action,
            By = by,
            CandidateVersion = candidate.Version,
            ActiveVersion = _models.Version,
            Reason = reason,
            ControlImpressions = candidate.Counters.Impressions(Arm.Control).Value,
            CandidateImpressions = candidate.Counters.Impressions(Arm.Candidate).Value,
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

    private void Tick()
    {
        try
        {
            Evaluate();
        }
#pragma warning disable CA1031 // A timer callback must not throw (it would end the process); the failure is logged and the next tick tries again.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Console.Error.WriteLine($"edgeselector: rollout evaluation failed: {e.Message}");
        }
    }

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}
