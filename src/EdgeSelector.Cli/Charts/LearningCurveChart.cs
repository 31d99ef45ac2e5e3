using EdgeSelector.Learning.Training;
using ScottPlot;

namespace EdgeSelector.Cli.Charts;

/// <summary>The chart of <c>edgesel learning-curve --chart</c>: greedy take fraction per trainer variant against impressions.</summary>
internal static class LearningCurveChart
{
    /// <summary>One variant's checkpoints.</summary>
    public sealed record Curve(string Name, IReadOnlyList<LearningPoint> Points);

    /// <summary>Builds the chart: one line per variant, random and best possible (of the first variant) dashed.</summary>
    public static Plot Build(IReadOnlyList<Curve> curves)
    {
        var plot = ChartStyle.New(
            "Learning curve: greedy take fraction of the trained models",
            "impressions served and learnt from (log scale)",
            "take fraction (quality plays per impression)");
        var all = new List<double>();
        for (var i = 0; i < curves.Count; i++)
        {
            var curve = curves[i];
            var line = plot.Add.Scatter(
                curve.Points.Select(p => Math.Log10(p.Impressions)).ToArray(),
                curve.Points.Select(p => p.GreedyTake).ToArray(),
                ChartStyle.Series[i % ChartStyle.Series.Length]);
            line.LineWidth = 2.5f;
            line.MarkerSize = 8;
            line.LegendText = curve.Name;
            all.AddRange(curve.Points.Select(p => p.GreedyTake));
        }

        if (curves.Count > 0 && curves[0].Points.Count > 0)
        {
            var first = curves[0].Points;
            var xs = first.Select(p => Math.Log10(p.Impressions)).ToArray();
            AddLevel(plot, xs, [.. first.Select(p => p.RandomTake)], ChartStyle.Neutral, "random");
            AddLevel(plot, xs, [.. first.Select(p => p.OptimalTake)], ChartStyle.Oracle, "best possible");
            all.AddRange(first.Select(p => p.RandomTake));
            all.AddRange(first.Select(p => p.OptimalTake));

            var ticks = new ScottPlot.TickGenerators.NumericManual();
            foreach (var p in first)
            {
                ticks.AddMajor(Math.Log10(p.Impressions), ReportCharts.Count(p.Impressions));
            }

            plot.Axes.Bottom.TickGenerator = ticks;
            var pad = Math.Max(0.1, (xs[^1] - xs[0]) * 0.05);
            plot.Axes.SetLimitsX(xs[0] - pad, xs[^1] + pad);
        }

        if (all.Count > 0)
        {
            ChartStyle.FitY(plot, all.Min(), all.Max());
        }

        plot.ShowLegend(Edge.Bottom);
        return plot;
    }

    /// <summary>Builds and saves the chart (.png or .svg).</summary>
    public static void Save(IReadOnlyList<Curve> curves, string path) => ChartStyle.Save(Build(curves), path);

    private static void AddLevel(Plot plot, double[] xs, double[] ys, Color color, string label)
    {
        var line = plot.Add.Scatter(xs, ys, color);
        line.LinePattern = LinePattern.Dashed;
        line.LineWidth = 1.5f;
        line.MarkerSize = 0;
        line.LegendText = label;
    }
}
