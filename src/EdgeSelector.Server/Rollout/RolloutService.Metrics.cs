using EdgeSelector.Core.Rollout;
using EdgeSelector.Server.Metrics;

namespace EdgeSelector.Server.Rollout;

/// <summary>The rollout's series in /metrics (docs/rollout.md, "Metrics").</summary>
internal sealed partial class RolloutService
{
    /// <summary>Writes the rollout's series after the node's (GET /metrics).</summary>
    public void WriteMetrics(PrometheusWriter w)
    {
        var candidate = Current;
        w.Single("edgeselector_rollout_candidate_version", MetricType.Gauge, "Version of the candidate bundle being tried (0: none).", candidate?.Version ?? 0);
        w.Single("edgeselector_rollout_fraction", MetricType.Gauge, "Share of members served the candidate bundle.", candidate?.Split.Fraction ?? 0);
        w.Family("edgeselector_rollout_decisions_total", MetricType.Counter, "Rollout decisions since the process started, by action.");
        for (var i = 0; i < DecisionActions.Length; i++)
        {
            w.Sample("edgeselector_rollout_decisions_total", "action", DecisionActions[i], Interlocked.Read(ref _decisionCounts[i]));
        }

        w.Single("edgeselector_rollout_rewards_unjoined_total", MetricType.Counter, "Rewards whose event the in-memory index did not hold (another node's, overwritten, or before a restart).", _unjoined.Value);
        if (candidate is null)
        {
            return;
        }

        var control = candidate.Counters.Read(Arm.Control);
        var tried = candidate.Counters.Read(Arm.Candidate);
        var controlLabels = PrometheusWriter.Labels(("arm", "control"), ("bundle", _models.Version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var candidateLabels = PrometheusWriter.Labels(("arm", "candidate"), ("bundle", candidate.Version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Family(w, "edgeselector_rollout_impressions_total", "Titles served in each arm of the running rollout.", controlLabels, control.Impressions, candidateLabels, tried.Impressions);
        Family(w, "edgeselector_rollout_fallbacks_total", "Titles of each arm answered with the default image.", controlLabels, control.Fallbacks, candidateLabels, tried.Fallbacks);
        Family(w, "edgeselector_rollout_rewards_total", "Rewards joined to each arm in memory.", controlLabels, control.Rewards, candidateLabels, tried.Rewards);
        Family(w, "edgeselector_rollout_takes_total", "Joined rewards that are takes (quality plays), by arm.", controlLabels, control.Takes, candidateLabels, tried.Takes);
        w.Family("edgeselector_rollout_take_fraction", MetricType.Gauge, "Takes per impression by arm, with its 95% Wilson interval (bound=estimate|low|high).");
        foreach (var (labels, counts) in (ReadOnlySpan<(string, ArmCounts)>)[(controlLabels, control), (candidateLabels, tried)])
        {
            if (counts.Impressions > 0)
            {
                var take = ConfidenceSequence.Wilson(counts.Takes, counts.Impressions);
                w.Sample("edgeselector_rollout_take_fraction", labels + ",bound=\"estimate\"", take.Estimate);
                w.Sample("edgeselector_rollout_take_fraction", labels + ",bound=\"low\"", take.Low);
                w.Sample("edgeselector_rollout_take_fraction", labels + ",bound=\"high\"", take.High);
            }
        }

        var test = TestOf(Judge(candidate));
        if (test.TakeDifference is { } difference)
        {
            w.Family("edgeselector_rollout_take_difference", MetricType.Gauge, "Take fraction candidate - control with its always-valid confidence sequence (bound=estimate|low|high).");
            w.Sample("edgeselector_rollout_take_difference", "bound", "estimate", difference);
            w.Sample("edgeselector_rollout_take_difference", "bound", "low", test.TakeDifferenceLow ?? double.NaN);
            w.Sample("edgeselector_rollout_take_difference", "bound", "high", test.TakeDifferenceHigh ?? double.NaN);
        }
    }

    private static void Family(PrometheusWriter w, string name, string help, string labels0, long value0, string labels1, long value1)
    {
        w.Family(name, MetricType.Counter, help);
        w.Sample(name, labels0, value0);
        w.Sample(name, labels1, value1);
    }
}
