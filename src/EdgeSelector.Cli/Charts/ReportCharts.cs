using System.Globalization;
using EdgeSelector.Learning.Simulation;
using ScottPlot;

namespace EdgeSelector.Cli.Charts;

/// <summary>The two charts of <c>edgesel report</c> (docs/evaluation.md, "Figure 2").</summary>
internal static class ReportCharts
{
    /// <summary>
    /// Figure 2: per policy, the replay estimate with its 95% interval and, beside it, the exact value; the oracle as a
    /// dashed line. The vertical axis spans the data, not 0..max.
    /// </summary>
    public static Plot Figure2(Figure2Result result)
    {
        var plot = ChartStyle.New(
            "Figure 2: take fraction by policy (replay on a uniformly explored simulated log)",
            "policy",
            "take fraction (quality plays per impression)");
        var n = result.Rows.Count;
        var xs = Enumerable.Range(0, n).Select(i => i - 0.12).ToArray();
        var values = result.Rows.Select(r => r.Replay.Value).ToArray();
        var estimates = plot.Add.ErrorBar(
            xs,
            values,
            result.Rows.Select(r => r.Replay.Value - r.Replay.CiLow).ToArray());
        estimates.YErrorPositive = result.Rows.Select(r => r.Replay.CiHigh - r.Replay.Value).ToArray();
        estimates.Color = ChartStyle.Estimate;
        estimates.LineWidth = 2;
        estimates.CapSize = 8;
        var points = plot.Add.Markers(xs, values, MarkerShape.FilledCircle, 9, ChartStyle.Estimate);
        points.LegendText = "replay estimate (95% interval)";

        var truth = plot.Add.Markers(
            Enumerable.Range(0, n).Select(i => i + 0.12).ToArray(),
            result.Rows.Select(r => r.TrueValue).ToArray(),
            MarkerShape.FilledDiamond,
            11,
            ChartStyle.Truth);
        truth.LegendText = "true value (simulator)";

        var oracle = plot.Add.HorizontalLine(result.OracleTrueValue, 1.5f, ChartStyle.Oracle, LinePattern.Dashed);
        oracle.LegendText = string.Create(CultureInfo.InvariantCulture, $"oracle {result.OracleTrueValue:0.0000}");

        ChartStyle.CategoryTicks(plot, [.. result.Rows.Select(r => r.Policy)]);
        ChartStyle.FitY(
            plot,
            result.Rows.Min(r => Math.Min(r.Replay.CiLow, r.TrueValue)),
            Math.Max(result.OracleTrueValue, result.Rows.Max(r => Math.Max(r.Replay.CiHigh, r.TrueValue))));
        plot.ShowLegend(Edge.Bottom);
        return plot;
    }

    /// <summary>
    /// Learning: the contextual greedy policy's true take fraction against training impressions (log scale, one tick
    /// per point), with the random, bandit and oracle levels as dashed lines.
    /// </summary>
    public static Plot Learning(Figure2Result result)
    {
        var plot = ChartStyle.New(
            "Take fraction while learning (contextual greedy, true value)",
            "training impressions (uniformly explored, log scale)",
            "take fraction (true value)");
        var points = result.Learning;
        var levels = new (Color Color, string Label, double Value)[]
        {
            (ChartStyle.Neutral, "random", result.Rows[0].TrueValue),
            (ChartStyle.Accent, "bandit (trained on all)", result.Rows[1].TrueValue),
            (ChartStyle.Oracle, "oracle", result.OracleTrueValue),
        };

        var xs = points.Select(p => Math.Log10(p.Impressions)).ToArray();
        var curve = plot.Add.Scatter(xs, points.Select(p => p.GreedyTrueValue).ToArray(), ChartStyle.Estimate);
        curve.LineWidth = 2.5f;
        curve.MarkerSize = 8;
        curve.LegendText = "contextual greedy";
        foreach (var (color, label, value) in levels)
        {
            var line = plot.Add.HorizontalLine(value, 1.5f, color, LinePattern.Dashed);
            line.LegendText = string.Create(CultureInfo.InvariantCulture, $"{label} {value:0.0000}");
        }

        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var p in points)
        {
            ticks.AddMajor(Math.Log10(p.Impressions), Count(p.Impressions));
        }

        plot.Axes.Bottom.TickGenerator = ticks;
        if (xs.Length > 0)
        {
            var pad = Math.Max(0.05, (xs[^1] - xs[0]) * 0.04);
            plot.Axes.SetLimitsX(xs[0] - pad, xs[^1] + pad);
        }

        var values = points.Select(p => p.GreedyTrueValue).Concat(levels.Select(l => l.Value)).ToArray();
        ChartStyle.FitY(plot, values.Min(), values.Max());
        plot.ShowLegend(Edge.Bottom);
        return plot;
    }

    /// <summary>A count as a short tick label: 3,906 → 3.9k, 500,000 → 500k, 1,000,000 → 1M.</summary>
    internal static string Count(double n) => n switch
    {
        >= 1e6 => (n / 1e6).ToString("0.#", CultureInfo.InvariantCulture) + "M",
        >= 1e3 => (n / 1e3).ToString(n >= 1e5 ? "0" : "0.#", CultureInfo.InvariantCulture) + "k",
        _ => n.ToString("0", CultureInfo.InvariantCulture),
    };
}
