using System.CommandLine;
using System.Globalization;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Fleet;
using EdgeSelector.Fleet.Bundles;
using EdgeSelector.Learning.Join;
using EdgeSelector.Learning.Rollout;
using NATS.Client.Core;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary>
/// The <c>--rollout-*</c> options of <c>edgesel train --nats</c>: the settings of the control plane's sequential test
/// (Core's <see cref="RolloutTest"/>, the node's test; defaults are the node's <c>EdgeSelector:Rollout</c> defaults).
/// </summary>
internal sealed class FleetRolloutOptions
{
    private static readonly RolloutTestOptions Defaults = new();

    private readonly Option<double> _alpha = SharedOptions.Range(new Option<double>("--rollout-alpha")
    {
        Description = "With --nats: error rate of the fleet's always-valid test over all looks",
        HelpName = "A",
        DefaultValueFactory = _ => Defaults.Alpha,
    }, 1e-9, 0.5);

    private readonly Option<double> _tau = SharedOptions.Range(new Option<double>("--rollout-tau")
    {
        Description = "With --nats: mixture standard deviation of the test (the effect size it detects fastest)",
        HelpName = "T",
        DefaultValueFactory = _ => Defaults.MixtureTau,
    }, 1e-6, 1.0);

    private readonly Option<long> _minImpressions = SharedOptions.Positive(new Option<long>("--rollout-min-impressions")
    {
        Description = "With --nats: no verdict before both arms have this many impressions fleet-wide",
        HelpName = "N",
        DefaultValueFactory = _ => Defaults.MinImpressionsPerArm,
    });

    private readonly Option<long> _promoteAfter = SharedOptions.Positive(new Option<long>("--rollout-promote-after")
    {
        Description = "With --nats: candidate-arm impressions fleet-wide before a candidate that is not worse is promoted",
        HelpName = "N",
        DefaultValueFactory = _ => Defaults.PromoteAfterImpressions,
    });

    private readonly Option<double> _margin = SharedOptions.Range(new Option<double>("--rollout-margin")
    {
        Description = "With --nats: non-inferiority margin: not worse = the take difference's lower bound above -margin",
        HelpName = "M",
        DefaultValueFactory = _ => Defaults.NonInferiorityMargin,
    }, 0.0, 1.0);

    private readonly Option<double> _fallbackMargin = SharedOptions.Range(new Option<double>("--rollout-fallback-margin")
    {
        Description = "With --nats: roll back when the fallback difference's lower bound exceeds this",
        HelpName = "M",
        DefaultValueFactory = _ => Defaults.FallbackMargin,
    }, 0.0, 1.0);

    private readonly Option<bool> _noDecide = new("--no-rollout-decide")
    {
        Description = "With --nats: report the fleet's take fractions and the test's verdict, but do not promote or roll back the fleet's candidate",
    };

    /// <summary>Adds the options to <c>edgesel train</c>, valid with <paramref name="nats"/> only.</summary>
    public void AddTo(Command command, Option nats)
    {
        Option[] all = [_alpha, _tau, _minImpressions, _promoteAfter, _margin, _fallbackMargin, _noDecide];
        foreach (var option in all)
        {
            command.Options.Add(option);
        }

        FleetCli.OnlyWith(command, nats, all);
    }

    /// <summary>The test's settings.</summary>
    public RolloutTestOptions Test(ParseResult parse) => new()
    {
        Alpha = parse.GetValue(_alpha),
        MixtureTau = parse.GetValue(_tau),
        MinImpressionsPerArm = parse.GetValue(_minImpressions),
        PromoteAfterImpressions = parse.GetValue(_promoteAfter),
        NonInferiorityMargin = parse.GetValue(_margin),
        FallbackMargin = parse.GetValue(_fallbackMargin),
    };

    /// <summary>Whether the run publishes the test's decision.</summary>
    public bool Decide(ParseResult parse) => !parse.GetValue(_noDecide);
}

/// <summary>
/// One trainer run's part in a fleet rollout (docs/rollout.md, "Fleet"): reads the fleet's candidate pointer, counts
/// the run's impressions and rewards into the candidate's <see cref="FleetRolloutTally"/> (kept across runs in
/// <c>&lt;models&gt;/trainer/fleet/rollout.json</c>), runs the node's sequential test on the fleet-wide counts and
/// publishes its decision through the candidate pointer, so every node converges.
/// </summary>
internal sealed class FleetRolloutRun
{
    /// <summary>How long a reward waits for its impression across runs before it counts as unjoined.</summary>
    private static readonly TimeSpan MaxRewardWait = TimeSpan.FromHours(1);

    private readonly CandidateChannel _channel;
    private readonly CandidatePointer _pointer;
    private readonly FleetRolloutTally _tally;
    private readonly string _path;

    private FleetRolloutRun(CandidateChannel channel, CandidatePointer pointer, FleetRolloutTally tally, string path)
    {
        _channel = channel;
        _pointer = pointer;
        _tally = tally;
        _path = path;
    }

    /// <summary>True while the fleet's candidate is being tried (the run does not move the active pointer then).</summary>
    public bool Running => _pointer.State == CandidatePointer.Running;

    /// <summary>The fleet's candidate pointer as the run read it.</summary>
    public CandidatePointer Pointer => _pointer;

    /// <summary>
    /// The run's part, or null when the fleet never had a candidate or its candidate was decided before this trainer
    /// counted it. A decided candidate it did count is still counted (late events) and reported, not decided again.
    /// </summary>
    public static FleetRolloutRun? Open(FleetConnection connection, string stateDir, CancellationToken cancellation)
    {
        var channel = new CandidateChannel(connection);
        var pointer = channel.GetAsync(cancellation).GetAwaiter().GetResult();
        if (pointer is null)
        {
            return null;
        }

        var path = Path.Combine(stateDir, "rollout.json");
        var tally = FleetRolloutTally.Load(path);
        var counting = pointer.State == CandidatePointer.Running || (tally.CandidateVersion == pointer.Version && tally.StartedAtMs == pointer.StartedAtMs);
        if (!counting)
        {
            return null; // decided before this trainer counted it: nothing to report
        }

        tally.Track(pointer.Version, pointer.ActiveVersion, pointer.StartedAtMs);
        return new FleetRolloutRun(channel, pointer, tally, path);
    }

    /// <summary>Counts an impression (only those served since the trial started count).</summary>
    public void AddImpression(in ImpressionRecord impression) => _tally.AddImpression(impression);

    /// <summary>Joins the run's rewards (and those that waited from earlier runs) to the trial's impressions.</summary>
    public void AddRewards(List<RewardRecord> rewards, QualityPlayRule rule)
    {
        _tally.RetryPending(rule, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), (long)MaxRewardWait.TotalMilliseconds);
        foreach (var reward in rewards)
        {
            _tally.AddReward(reward, rule);
        }
    }

    /// <summary>Saves the counts (before the run acknowledges its messages: durable before acknowledged).</summary>
    public void Save() => _tally.Save(_path);

    /// <summary>
    /// Judges the fleet-wide counts with the node's test and, when <paramref name="decide"/> and the candidate is still
    /// running, publishes a promote or rollback through the candidate pointer (and, for a promotion, the bundle pointer).
    /// </summary>
    public FleetRolloutReport Decide(RolloutTestOptions options, bool decide, CliContext context)
    {
        var judgement = RolloutTest.Judge(_tally.Counts(Arm.Control), _tally.Counts(Arm.Candidate), options);
        var report = FleetRolloutReport.Of(_tally, judgement, _pointer.Fraction, _pointer.State, _pointer.ActiveVersion);
        if (!Running)
        {
            return report with { Decision = _pointer.State == CandidatePointer.Promoted ? "promote" : "rollback", Reason = $"decided earlier ({_pointer.By}): {_pointer.Reason}" };
        }

        if (!decide || judgement.Action == RolloutAction.Keep)
        {
            return report;
        }

        try
        {
            var decided = _channel.DecideAsync(
                _pointer.Version,
                judgement.Action == RolloutAction.Promote,
                "auto",
                judgement.Reason,
                _tally.Counts(Arm.Control).Impressions,
                _tally.Counts(Arm.Candidate).Impressions,
                context.Cancellation).GetAwaiter().GetResult();
            context.Message($"fleet rollout: candidate {decided.Version} {decided.State}: {decided.Reason}");
            return report with { Published = true, State = decided.State };
        }
        catch (Exception e) when (e is FleetException or NatsException or TimeoutException)
        {
            context.Message($"fleet rollout: the decision ({judgement.ActionName}) on candidate {_pointer.Version} was not published ({e.Message}); the next run decides again");
            return report;
        }
    }

    /// <summary>The report as lines for a person.</summary>
    public static void Print(TextWriter output, FleetRolloutReport report)
    {
        var ci = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(ci, $"fleet rollout: candidate {report.CandidateVersion} for {report.Fraction:0.####} of members against active {report.ActiveVersion} ({report.State})"));
        foreach (var arm in report.Arms)
        {
            var version = arm.BundleVersion is { } v ? string.Create(ci, $"bundle {v}") : "all bundles";
            var take = arm.TakeFraction is { } t ? string.Create(ci, $"{t:0.0000} [{arm.TakeFractionLow:0.0000}, {arm.TakeFractionHigh:0.0000}]") : "-";
            output.WriteLine(string.Create(ci, $"  {arm.Arm,-9} {version,-14} impressions {arm.Impressions,9} fallbacks {arm.Fallbacks,7} rewards {arm.Rewards,8} takes {arm.Takes,7} take fraction {take}"));
        }

        var difference = report.TakeDifference is { } d ? string.Create(ci, $"{d:0.#####} [{report.TakeDifferenceLow:0.#####}, {report.TakeDifferenceHigh:0.#####}]") : "-";
        output.WriteLine(string.Create(ci, $"  test: {report.Verdict}, take difference candidate - control {difference}; decision {report.Decision}{(report.Published ? " (published to the fleet)" : string.Empty)}: {report.Reason}"));
        output.WriteLine(string.Create(ci, $"  rewards unjoined {report.UnjoinedRewards}, waiting for their impression {report.PendingRewards}"));
    }
}
