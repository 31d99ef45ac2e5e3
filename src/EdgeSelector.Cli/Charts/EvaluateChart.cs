using EdgeSelector.Learning.Evaluation;
using ScottPlot;

namespace EdgeSelector.Cli.Charts;

/// <summary>The chart of <c>edgesel evaluate --chart</c>: each estimator's value with its 95% interval.</summary>
internal static class EvaluateChart
{
    /// <summary>Builds the chart; estimators without a finite value (no supporting rows) are left out.</summary>
    public static Plot Build(EvaluationReport report, string policyName)
    {
        var plot = ChartStyle.New($"Estimated value of {policyName} (95% intervals)", "estimator", "estimated value per row");
        var results = report.Results.Where(r => double.IsFinite(r.Value)).ToList();
        var xs = Enumerable.Range(0, results.Count).Select(i => (double)i).ToArray();
        var values = results.Select(r => r.Value).ToArray();
        var bars = plot.Add.ErrorBar(xs, values, results.Select(r => Finite(r.Value - r.CiLow)).ToArray());
        bars.YErrorPositive = results.Select(r => Finite(r.CiHigh - r.Value)).ToArray();
        bars.Color = ChartStyle.Estimate;
        bars.LineWidth = 2;
        bars.CapSize = 10;
        plot.Add.Markers(xs, values, MarkerShape.FilledCircle, 10, ChartStyle.Estimate);
        ChartStyle.CategoryTicks(plot, [.. results.Select(r => r.Warning is null ? r.Name : r.Name + " (!)")]);
        if (results.Count > 0)
        {
            ChartStyle.FitY(
                plot,
                results.Min(r => double.IsFinite(r.CiLow) ? r.CiLow : r.Value),
                results.Max(r => double.IsFinite(r.CiHigh) ? r.CiHigh : r.Value));
        }

        if (results.Any(r => r.Warning is not null))
        {
            plot.XLabel("estimator ((!) = the estimator warns: see its warning in the output)");
        }

        return plot;
    }

    /// <summary>Builds and saves the chart (.png or .svg).</summary>
    public static void Save(EvaluationReport report, string policyName, string path) => ChartStyle.Save(Build(report, policyName), path);

    private static double Finite(double value) => double.IsFinite(value) ? Math.Max(0, value) : 0;
}
