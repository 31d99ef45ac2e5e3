using System.Globalization;
using System.Net;
using System.Text;
using EdgeSelector.Learning.Simulation;

namespace EdgeSelector.Cli.Commands;

/// <summary>
/// The report's two charts as plain SVG text (no package: a few rectangles, lines and labels). Numbers are written
/// with the invariant culture and rounded so the files are small and stable across runs.
/// </summary>
internal static class ReportCharts
{
    private const int Width = 720;
    private const int Height = 400;
    private const int Left = 70;
    private const int Right = 20;
    private const int Top = 40;
    private const int Bottom = 90;

    /// <summary>Figure 2: one bar per policy (replay estimate, 95% interval whisker), its true value as a black tick, the oracle as a dashed line.</summary>
    public static string Figure2(Figure2Result result)
    {
        var max = Math.Max(result.OracleTrueValue, result.Rows.Max(r => Math.Max(r.Replay.CiHigh, r.TrueValue)));
        var top = NiceCeiling(max * 1.05);
        var svg = Begin("Figure 2: take fraction by policy (replay on a uniformly explored simulated log)");
        Axis(svg, top, "take fraction (quality plays per impression)");
        var plotWidth = Width - Left - Right;
        var slot = plotWidth / (double)result.Rows.Count;
        for (var i = 0; i < result.Rows.Count; i++)
        {
            var row = result.Rows[i];
            var x = Left + (slot * i) + (slot * 0.2);
            var w = slot * 0.6;
            var y = Y(row.Replay.Value, top);
            svg.Append(F($"<rect x=\"{x:0.#}\" y=\"{y:0.#}\" width=\"{w:0.#}\" height=\"{Y(0, top) - y:0.#}\" fill=\"#4c78a8\"/>\n"));
            var cx = x + (w / 2);
            svg.Append(F($"<path d=\"M{cx:0.#} {Y(row.Replay.CiLow, top):0.#}V{Y(row.Replay.CiHigh, top):0.#}M{cx - 6:0.#} {Y(row.Replay.CiLow, top):0.#}h12M{cx - 6:0.#} {Y(row.Replay.CiHigh, top):0.#}h12\" stroke=\"#222\" stroke-width=\"1.5\"/>\n"));
            svg.Append(F($"<path d=\"M{x:0.#} {Y(row.TrueValue, top):0.#}h{w:0.#}\" stroke=\"#e45756\" stroke-width=\"3\"/>\n"));
            svg.Append(F($"<text x=\"{cx:0.#}\" y=\"{Y(row.Replay.CiHigh, top) - 6:0.#}\" text-anchor=\"middle\" font-size=\"11\">{row.Replay.Value:0.0000}</text>\n"));
            var words = row.Policy.Split(' ', 2);
            svg.Append(F($"<text x=\"{cx:0.#}\" y=\"{Height - Bottom + 18}\" text-anchor=\"middle\" font-size=\"12\">{Escape(words[0])}</text>\n"));
            if (words.Length > 1)
            {
                svg.Append(F($"<text x=\"{cx:0.#}\" y=\"{Height - Bottom + 33}\" text-anchor=\"middle\" font-size=\"12\">{Escape(words[1])}</text>\n"));
            }
        }

        var oracle = Y(result.OracleTrueValue, top);
        svg.Append(F($"<path d=\"M{Left} {oracle:0.#}H{Width - Right}\" stroke=\"#54a24b\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"));
        Legend(svg, [("#4c78a8", "replay estimate (95% interval)"), ("#e45756", "true value"), ("#54a24b", F($"oracle {result.OracleTrueValue:0.0000}"))]);
        return End(svg);
    }

    /// <summary>Learning: true take fraction of the contextual greedy policy against training impressions (log scale), with random, bandit and oracle levels.</summary>
    public static string Learning(Figure2Result result)
    {
        var points = result.Learning;
        var levels = new (string Color, string Label, double Value)[]
        {
            ("#888", "random", result.Rows[0].TrueValue),
            ("#f58518", "bandit (trained on all)", result.Rows[1].TrueValue),
            ("#54a24b", "oracle", result.OracleTrueValue),
        };
        var top = NiceCeiling(Math.Max(levels.Max(l => l.Value), points.Count == 0 ? 0 : points.Max(p => p.GreedyTrueValue)) * 1.05);
        var svg = Begin("Take fraction while learning (contextual greedy, true value)");
        Axis(svg, top, "take fraction (true value)");
        var lo = Math.Log(Math.Max(1, points.Count == 0 ? 1 : points[0].Impressions));
        var hi = Math.Log(Math.Max(2, points.Count == 0 ? 2 : points[^1].Impressions));
        if (hi <= lo)
        {
            hi = lo + 1;
        }

        double X(int n) => Left + ((Width - Left - Right) * (Math.Log(n) - lo) / (hi - lo));
        foreach (var (color, _, value) in levels)
        {
            svg.Append(F($"<path d=\"M{Left} {Y(value, top):0.#}H{Width - Right}\" stroke=\"{color}\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"));
        }

        if (points.Count > 0)
        {
            var path = string.Join(' ', points.Select((p, i) => F($"{(i == 0 ? 'M' : 'L')}{X(p.Impressions):0.#} {Y(p.GreedyTrueValue, top):0.#}")));
            svg.Append($"<path d=\"{path}\" fill=\"none\" stroke=\"#4c78a8\" stroke-width=\"2.5\"/>\n");
            foreach (var p in points)
            {
                svg.Append(F($"<circle cx=\"{X(p.Impressions):0.#}\" cy=\"{Y(p.GreedyTrueValue, top):0.#}\" r=\"3.5\" fill=\"#4c78a8\"/>\n"));
                svg.Append(F($"<text x=\"{X(p.Impressions):0.#}\" y=\"{Height - Bottom + 18}\" text-anchor=\"middle\" font-size=\"11\">{p.Impressions}</text>\n"));
            }
        }

        svg.Append(F($"<text x=\"{Left + ((Width - Left - Right) / 2)}\" y=\"{Height - Bottom + 38}\" text-anchor=\"middle\" font-size=\"12\">training impressions (uniformly explored, log scale)</text>\n"));
        Legend(svg, [("#4c78a8", "contextual greedy"), .. levels.Select(l => (l.Color, l.Label))]);
        return End(svg);
    }

    private static StringBuilder Begin(string title)
    {
        var svg = new StringBuilder();
        svg.Append(F($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\">\n"));
        svg.Append(F($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"#fff\"/>\n"));
        svg.Append(F($"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{Escape(title)}</text>\n"));
        return svg;
    }

    private static string End(StringBuilder svg) => svg.Append("</svg>\n").ToString();

    private static void Axis(StringBuilder svg, double top, string label)
    {
        // Ticks on round values: a half power of ten below the top (0.05 for a top of 0.45).
        var step = Math.Pow(10, Math.Floor(Math.Log10(top))) / 2;
        for (var k = 0; k * step <= top * (1 + 1e-9); k++)
        {
            var v = k * step;
            var y = Y(v, top);
            svg.Append(F($"<path d=\"M{Left} {y:0.#}H{Width - Right}\" stroke=\"#e5e5e5\"/>\n"));
            svg.Append(F($"<text x=\"{Left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\" font-size=\"11\">{v:0.0##}</text>\n"));
        }

        svg.Append(F($"<path d=\"M{Left} {Top}V{Height - Bottom}H{Width - Right}\" stroke=\"#222\" fill=\"none\"/>\n"));
        svg.Append(F($"<text transform=\"translate(16 {(Top + Height - Bottom) / 2}) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">{Escape(label)}</text>\n"));
    }

    private static void Legend(StringBuilder svg, IReadOnlyList<(string Color, string Label)> entries)
    {
        var x = Left;
        var y = Height - 14;
        foreach (var (color, label) in entries)
        {
            svg.Append(F($"<rect x=\"{x}\" y=\"{y - 9}\" width=\"14\" height=\"10\" fill=\"{color}\"/>\n"));
            svg.Append(F($"<text x=\"{x + 18}\" y=\"{y}\" font-size=\"11\">{Escape(label)}</text>\n"));
            x += 30 + (label.Length * 6);
        }
    }

    private static double Y(double value, double top) => Top + ((Height - Top - Bottom) * (1 - (value / top)));

    private static double NiceCeiling(double value)
    {
        if (!(value > 0))
        {
            return 1;
        }

        var step = Math.Pow(10, Math.Floor(Math.Log10(value))) / 4;
        return Math.Ceiling(value / step) * step;
    }

    private static string Escape(string text) => WebUtility.HtmlEncode(text);

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
