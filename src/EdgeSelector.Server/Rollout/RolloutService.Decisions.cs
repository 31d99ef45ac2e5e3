using System.Globalization;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Server.Diagnostics;
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
            if (_current is not { } candidate)
            {
                return null;
            }

            var active = _models.Version;
            if (active >= candidate.Version)
            {
                return End(candidate, "superseded", "auto", $"the active bundle {active} is not older than the candidate {candidate.Version} (pushed as active meanwhile)");
            }

            var test = Judge(candidate, out var verdict);
            if (_options.AutoDecide)
            {
                var ci = CultureInfo.InvariantCulture;
                switch (verdict)
                {
                    case "worse":
                        return End(candidate, "rollback", "auto", string.Create(ci,
                            $"worse: take fraction candidate - control {test.TakeDifference:0.#####}, always-valid {1 - _options.Alpha:0.##} interval [{test.TakeDifferenceLow:0.#####}, {test.TakeDifferenceHigh:0.#####}] is below 0"));
                    case "fallbacks":
                        return End(candidate, "rollback", "auto", string.Create(ci,
                            $"fallbacks: fallback fraction candidate - control {test.FallbackDifference:0.#####}, interval [{test.FallbackDifferenceLow:0.#####}, {test.FallbackDifferenceHigh:0.#####}] is above the margin {_options.FallbackMargin}"));
                    case "not_worse" when test.ImpressionsToPromotion == 0:
                        return Promote(candidate, "auto", string.Create(ci,
                            $"not worse: take fraction candidate - control {test.TakeDifference:0.#####}, interval [{test.TakeDifferenceLow:0.#####}, {test.TakeDifferenceHigh:0.#####}] is above -{_options.NonInferiorityMargin} after {candidate.Counters.Impressions(Arm.Candidate).Value} candidate impressions"));
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
            return decision.Action == "promote"
                ? RolloutOutcome.Ok("promote", candidate.Version, candidate.Split.Fraction, _models.Version, $"candidate {candidate.Version} is now the active bundle")
                : RolloutOutcome.Refused(409, decision.Reason);
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
            return new RolloutStatus { ActiveVersion = active, RewardsUnjoined = _unjoined.Value, Decisions = decisions, Settings = settings };
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
            },
            Arms = [ArmOf(candidate, Arm.Control, active), ArmOf(candidate, Arm.Candidate, candidate.Version)],
            Test = Judge(candidate, out _),
            RewardsUnjoined = _unjoined.Value,
            Decisions = decisions,
            Settings = settings,
        };
    }

    /// <summary>The always-valid intervals of candidate − control and what they say.</summary>
    private TestStatus Judge(CandidateBundle candidate, out string verdict)
    {
        var control = candidate.Counters.Read(Arm.Control);
        var tried = candidate.Counters.Read(Arm.Candidate);
        var take = ConfidenceSequence.Difference(tried.Takes, tried.Impressions, control.Takes, control.Impressions, _options.MixtureTau, _options.Alpha);
        var fallback = ConfidenceSequence.Difference(tried.Fallbacks, tried.Impressions, control.Fallbacks, control.Impressions, _options.MixtureTau, _options.Alpha);
        verdict = control.Impressions < _options.MinImpressionsPerArm || tried.Impressions < _options.MinImpressionsPerArm ? "collecting"
            : take.High < 0 ? "worse"
            : fallback.Low > _options.FallbackMargin ? "fallbacks"
            : take.Low > -_options.NonInferiorityMargin ? "not_worse"
            : "inconclusive";
        return new TestStatus
        {
            TakeDifference = Finite(take.Estimate),
            TakeDifferenceLow = Finite(take.Low),
            TakeDifferenceHigh = Finite(take.High),
            FallbackDifference = Finite(fallback.Estimate),
            FallbackDifferenceLow = Finite(fallback.Low),
            FallbackDifferenceHigh = Finite(fallback.High),
            Verdict = verdict,
            ImpressionsToPromotion = Math.Max(0, _options.PromoteAfterImpressions - tried.Impressions),
        };
    }

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
    // atomic generation swap), then ends the trial either way.
    private RolloutDecision Promote(CandidateBundle candidate, string by, string reason)
    {
        // The trial ends before the bundle becomes active: no page sees "control" served from the promoted bundle
        // while the candidate still counts as running.
        Volatile.Write(ref _current, null);
        var outcome = _bundles.Apply(candidate.Bytes, force: false);
        return outcome.Ok
            ? End(candidate, "promote", by, reason)
            : End(candidate, "promote_failed", by, $"promotion refused by the model store ({outcome.Kind}): {outcome.Message}");
    }

    // Under _lock: every member goes to the active bundle at once (the next page reads null), the decision is
    // logged, counted and persisted, and the candidate's file is deleted.
    private RolloutDecision End(CandidateBundle candidate, string action, string by, string reason)
    {
        var decision = Decision(candidate, action, by, reason);
        Volatile.Write(ref _current, null);
        AddDecision(decision);
        SaveState();
        DeleteCandidateFile();
        return decision;
    }

    private RolloutDecision Decision(CandidateBundle candidate, string action, string by, string reason)
    {
        var take = Judge(candidate, out _);
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
