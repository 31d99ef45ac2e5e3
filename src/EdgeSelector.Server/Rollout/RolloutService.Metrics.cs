using System.Globalization;
using System.Text;
using EdgeSelector.Core.Rollout;

namespace EdgeSelector.Server.Rollout;

/// <summary>The rollout's series in /metrics (docs/rollout.md, "Metrics").</summary>
internal sealed partial class RolloutService
{
    /// <summary>Prometheus text of the rollout, appended to the node's /metrics.</summary>
    public string RenderMetrics()
    {
        var sb = new StringBuilder(2048);
        var ci = CultureInfo.InvariantCulture;
        var candidate = Current;
        Header(sb, "edgeselector_rollout_candidate_version", "gauge", "Version of the candidate bundle being tried (0: none).");
        sb.Append(ci, $"edgeselector_rollout_candidate_version {candidate?.Version ?? 0}\n");
        Header(sb, "edgeselector_rollout_fraction", "gauge", "Share of members served the candidate bundle.");
        sb.Append(ci, $"edgeselector_rollout_fraction {candidate?.Split.Fraction ?? 0}\n");
        Header(sb, "edgeselector_rollout_decisions_total", "counter", "Rollout decisions since the process started, by action.");
        for (var i = 0; i < DecisionActions.Length; i++)
        {
            sb.Append(ci, $"edgeselector_rollout_decisions_total{{action=\"{DecisionActions[i]}\"}} {Interlocked.Read(ref _decisionCounts[i])}\n");
        }

        Header(sb, "edgeselector_rollout_rewards_unjoined_total", "counter", "Rewards whose event the in-memory index did not hold (another node's, overwritten, or before a restart).");
        sb.Append(ci, $"edgeselector_rollout_rewards_unjoined_total {_unjoined.Value}\n");
        if (candidate is null)
        {
            return sb.ToString();
        }

        var control = candidate.Counters.Read(Arm.Control);
        var tried = candidate.Counters.Read(Arm.Candidate);
        var controlLabels = $"arm=\"control\",bundle=\"{_models.Version}\"";
        var candidateLabels = $"arm=\"candidate\",bundle=\"{candidate.Version}\"";
        Family(sb, "edgeselector_rollout_impressions_total", "counter", "Titles served in each arm of the running rollout.", controlLabels, control.Impressions, candidateLabels, tried.Impressions);
        Family(sb, "edgeselector_rollout_fallbacks_total", "counter", "Titles of each arm answered with the default image.", controlLabels, control.Fallbacks, candidateLabels, tried.Fallbacks);
        Family(sb, "edgeselector_rollout_rewards_total", "counter", "Rewards joined to each arm in memory.", controlLabels, control.Rewards, candidateLabels, tried.Rewards);
        Family(sb, "edgeselector_rollout_takes_total", "counter", "Joined rewards that are takes (quality plays), by arm.", controlLabels, control.Takes, candidateLabels, tried.Takes);
        Header(sb, "edgeselector_rollout_take_fraction", "gauge", "Takes per impression by arm, with its 95% Wilson interval (bound=estimate|low|high).");
        foreach (var (labels, counts) in (ReadOnlySpan<(string, ArmCounts)>)[(controlLabels, control), (candidateLabels, tried)])
        {
            if (counts.Impressions > 0)
            {
                var take = ConfidenceSequence.Wilson(counts.Takes, counts.Impressions);
                sb.Append(ci, $"edgeselector_rollout_take_fraction{{{labels},bound=\"estimate\"}} {take.Estimate}\n");
                sb.Append(ci, $"edgeselector_rollout_take_fraction{{{labels},bound=\"low\"}} {take.Low}\n");
                sb.Append(ci, $"edgeselector_rollout_take_fraction{{{labels},bound=\"high\"}} {take.High}\n");
            }
        }

        var test = TestOf(Judge(candidate));
        if (test.TakeDifference is { } difference)
        {
            Header(sb, "edgeselector_rollout_take_difference", "gauge", "Take fraction candidate - control with its always-valid confidence sequence (bound=estimate|low|high).");
            sb.Append(ci, $"edgeselector_rollout_take_difference{{bound=\"estimate\"}} {difference}\n");
            sb.Append(ci, $"edgeselector_rollout_take_difference{{bound=\"low\"}} {test.TakeDifferenceLow}\n");
            sb.Append(ci, $"edgeselector_rollout_take_difference{{bound=\"high\"}} {test.TakeDifferenceHigh}\n");
        }

        return sb.ToString();
    }

    private static void Family(StringBuilder sb, string name, string type, string help, string labels0, long value0, string labels1, long value1)
    {
        Header(sb, name, type, help);
        sb.Append(CultureInfo.InvariantCulture, $"{name}{{{labels0}}} {value0}\n");
        sb.Append(CultureInfo.InvariantCulture, $"{name}{{{labels1}}} {value1}\n");
    }

    private static void Header(StringBuilder sb, string name, string type, string help) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
}
