using System.Globalization;
using System.Text;
using System.Text.Json;
using HdrHistogram;

namespace EdgeSelector.LoadTest;

/// <summary>What a run measured, and its JSON, Markdown and SVG renderings.</summary>
public sealed class LoadResult
{
    /// <summary>Percentiles of the plot and of the JSON's distribution.</summary>
    public static readonly double[] PlotPercentiles = [0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 98, 99, 99.5, 99.7, 99.9, 99.95, 99.99, 99.999, 100];

    private LoadResult(LoadOptions options)
    {
        Options = options;
    }

    /// <summary>The run's options.</summary>
    public LoadOptions Options { get; }

    /// <summary>Counters over the measured period.</summary>
    public Counters Counters { get; private init; }

    /// <summary>Measured seconds (after the warm-up).</summary>
    public double Seconds { get; private init; }

    /// <summary>Answered requests per second.</summary>
    public double RequestsPerSecond => Counters.Completed / Seconds;

    /// <summary>Titles decided per second.</summary>
    public double SelectionsPerSecond => Counters.Selections / Seconds;

    /// <summary>Latency percentiles in milliseconds, keyed "p50", "p90", "p99", "p99.9", "max", "mean".</summary>
    public IReadOnlyDictionary<string, double> LatencyMs { get; private init; } = new Dictionary<string, double>();

    /// <summary>(percentile, ms) points of the distribution.</summary>
    public IReadOnlyList<(double Percentile, double Ms)> Distribution { get; private init; } = [];

    /// <summary>Connection failures (empty in a clean run).</summary>
    public IReadOnlyList<string> Failures { get; private init; } = [];

    /// <summary>Builds the result from the merged histogram and counters.</summary>
    public static LoadResult From(LoadOptions options, HistogramBase histogram, Counters counters, double seconds, IReadOnlyList<string> failures)
    {
        bool any = histogram.TotalCount > 0;
        double At(double p) => any ? histogram.GetValueAtPercentile(p) / 1e6 : 0;
        return new LoadResult(options)
        {
            Counters = counters,
            Seconds = seconds,
            Failures = failures,
            LatencyMs = new Dictionary<string, double>
            {
                ["p50"] = At(50),
                ["p90"] = At(90),
                ["p99"] = At(99),
                ["p99.9"] = At(99.9),
                ["max"] = any ? histogram.GetMaxValue() / 1e6 : 0,
                ["mean"] = any ? histogram.GetMean() / 1e6 : 0,
            },
            Distribution = PlotPercentiles.Select(p => (p, At(p))).ToList(),
        };
    }

    /// <summary>The JSON report (UTF-8).</summary>
    public byte[] ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            var o = Options;
            w.WriteStartObject();
            w.WriteString("tool", "edgeselector-load");
            w.WriteString("name", o.Name);
            w.WriteString("timestampUtc", DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture));
            w.WriteString("target", $"{o.Host}:{o.Port}");
            w.WriteString("protocol", o.Protocol == TargetProtocol.Binary ? "binary" : "resp");
            if (o.Protocol == TargetProtocol.Resp)
            {
                w.WriteString("respCommand", o.RespCommand.ToString());
            }

            w.WriteString("mode", o.Rate > 0 ? "open" : "closed");
            w.WriteNumber("targetRate", o.Rate);
            w.WriteNumber("connections", o.Connections);
            w.WriteNumber("pipeline", o.Pipeline);
            w.WriteNumber("warmupSeconds", o.WarmupSeconds);
            w.WriteNumber("durationSeconds", o.DurationSeconds);
            w.WriteNumber("maxRequests", o.MaxRequests);
            w.WriteStartObject("mix");
            w.WriteNumber("select", o.MixSelect);
            w.WriteNumber("page", o.MixPage);
            w.WriteNumber("reward", o.MixReward);
            w.WriteNumber("ping", o.MixPing);
            w.WriteEndObject();
            w.WriteNumber("pageSize", o.PageSize);
            w.WriteStartObject("titles");
            w.WriteNumber("first", o.TitleFirst);
            w.WriteNumber("count", o.TitleCount);
            w.WriteNumber("zipf", o.TitleZipf);
            w.WriteEndObject();
            w.WriteStartObject("members");
            w.WriteNumber("first", o.MemberFirst);
            w.WriteNumber("count", o.MemberCount);
            w.WriteNumber("zipf", o.MemberZipf);
            w.WriteEndObject();
            w.WriteNumber("measuredSeconds", Seconds);
            w.WriteNumber("requests", Counters.Completed);
            w.WriteNumber("selections", Counters.Selections);
            w.WriteNumber("rewards", Counters.Rewards);
            w.WriteNumber("errors", Counters.Errors);
            w.WriteNumber("fallbacks", Counters.Fallbacks);
            w.WriteNumber("requestsPerSecond", RequestsPerSecond);
            w.WriteNumber("selectionsPerSecond", SelectionsPerSecond);
            w.WriteStartObject("latencyMs");
            foreach (var (k, v) in LatencyMs)
            {
                w.WriteNumber(k, v);
            }

            w.WriteEndObject();
            w.WriteStartArray("distribution");
            foreach (var (p, ms) in Distribution)
            {
                w.WriteStartObject();
                w.WriteNumber("percentile", p);
                w.WriteNumber("ms", ms);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("failures");
            foreach (var f in Failures)
            {
                w.WriteStringValue(f);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return stream.ToArray();
    }

    /// <summary>The Markdown report.</summary>
    public string ToMarkdown()
    {
        var o = Options;
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        sb.Append(ci, $"# edgeselector-load: {o.Name}\n\n");
        sb.Append(ci, $"Target `{o.Host}:{o.Port}` ({(o.Protocol == TargetProtocol.Binary ? "binary" : "RESP " + o.RespCommand)}), ");
        sb.Append(ci, $"{(o.Rate > 0 ? $"open loop at {o.Rate:N0} req/s" : "closed loop")}, {o.Connections} connections × {o.Pipeline} in flight, ");
        sb.Append(ci, $"{o.WarmupSeconds:0.#} s warm-up + {o.DurationSeconds:0.#} s. ");
        sb.Append(ci, $"Mix select={o.MixSelect} page={o.MixPage} (size {o.PageSize}) reward={o.MixReward} ping={o.MixPing}; ");
        sb.Append(ci, $"titles {o.TitleFirst}+{o.TitleCount} zipf {o.TitleZipf}, members {o.MemberFirst}+{o.MemberCount} zipf {o.MemberZipf}.\n\n");
        sb.Append("| requests/s | selections/s | requests | errors | fallbacks | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n");
        sb.Append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        sb.Append(ci, $"| {RequestsPerSecond:N0} | {SelectionsPerSecond:N0} | {Counters.Completed:N0} | {Counters.Errors} | {Counters.Fallbacks} ");
        sb.Append(ci, $"| {LatencyMs["p50"]:F3} | {LatencyMs["p90"]:F3} | {LatencyMs["p99"]:F3} | {LatencyMs["p99.9"]:F3} | {LatencyMs["max"]:F3} |\n\n");
        sb.Append("![latency by percentile](latency.svg)\n");
        if (Failures.Count > 0)
        {
            sb.Append("\nConnection failures:\n");
            foreach (var f in Failures)
            {
                sb.Append(ci, $"- {f}\n");
            }
        }

        return sb.ToString();
    }

    /// <summary>The latency distribution as an SVG: latency (ms, linear) against percentile on HdrHistogram's log axis 1/(1-p).</summary>
    public string ToSvg()
    {
        const double W = 720, H = 400, L = 70, R = 20, T = 40, B = 60;
        var ci = CultureInfo.InvariantCulture;
        const double MaxNines = 5; // up to 99.999
        double X(double percentile)
        {
            double nines = percentile >= 100 ? MaxNines : Math.Min(MaxNines, -Math.Log10(1 - (percentile / 100)));
            return L + ((W - L - R) * nines / MaxNines);
        }

        double maxMs = Math.Max(1e-3, Distribution.Max(d => d.Ms));
        double yTop = NiceCeiling(maxMs);
        double Y(double ms) => H - B - ((H - T - B) * ms / yTop);
        var sb = new StringBuilder();
        sb.Append(ci, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(ci, $"<rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n");
        sb.Append(ci, $"<text x=\"{W / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{Escape(Options.Name)}: latency by percentile ({RequestsPerSecond:N0} req/s)</text>\n");
        for (int i = 0; i <= 5; i++)
        {
            double ms = yTop * i / 5;
            double y = Y(ms);
            sb.Append(ci, $"<line x1=\"{L}\" y1=\"{y:F1}\" x2=\"{W - R}\" y2=\"{y:F1}\" stroke=\"#ddd\"/><text x=\"{L - 6}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{ms:G4}</text>\n");
        }

        string[] labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"];
        for (int i = 0; i <= 5; i++)
        {
            double x = L + ((W - L - R) * i / MaxNines);
            sb.Append(ci, $"<line x1=\"{x:F1}\" y1=\"{T}\" x2=\"{x:F1}\" y2=\"{H - B}\" stroke=\"#ddd\"/><text x=\"{x:F1}\" y=\"{H - B + 18}\" text-anchor=\"middle\">{labels[i]}</text>\n");
        }

        sb.Append(ci, $"<text x=\"{(L + W - R) / 2}\" y=\"{H - 15}\" text-anchor=\"middle\">percentile</text>\n");
        sb.Append(ci, $"<text x=\"18\" y=\"{(T + H - B) / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {(T + H - B) / 2})\">latency (ms)</text>\n");
        sb.Append("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"");
        foreach (var (p, ms) in Distribution)
        {
            sb.Append(ci, $"{X(p):F1},{Y(ms):F1} ");
        }

        sb.Append("\"/>\n");
        foreach (var (p, ms) in Distribution)
        {
            sb.Append(ci, $"<circle cx=\"{X(p):F1}\" cy=\"{Y(ms):F1}\" r=\"2.5\" fill=\"#1f77b4\"><title>p{p}: {ms:F3} ms</title></circle>\n");
        }

        sb.Append(ci, $"<rect x=\"{L}\" y=\"{T}\" width=\"{W - L - R}\" height=\"{H - T - B}\" fill=\"none\" stroke=\"#333\"/>\n</svg>\n");
        return sb.ToString();
    }

    /// <summary>A one-screen summary and <c>name=value</c> lines for scripts.</summary>
    public string ToText()
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(ci, $"{Options.Name}: {RequestsPerSecond:N0} req/s, {SelectionsPerSecond:N0} selections/s over {Seconds:F1} s; errors {Counters.Errors}, fallbacks {Counters.Fallbacks}\n");
        sb.Append(ci, $"latency ms: p50 {LatencyMs["p50"]:F3}  p90 {LatencyMs["p90"]:F3}  p99 {LatencyMs["p99"]:F3}  p99.9 {LatencyMs["p99.9"]:F3}  max {LatencyMs["max"]:F3}\n");
        foreach (var f in Failures)
        {
            sb.Append(ci, $"connection failure: {f}\n");
        }

        sb.Append(ci, $"requests_per_s={RequestsPerSecond:F0}\nselections_per_s={SelectionsPerSecond:F0}\nerrors={Counters.Errors}\nfallbacks={Counters.Fallbacks}\n");
        sb.Append(ci, $"p50_ms={LatencyMs["p50"]:F4}\np90_ms={LatencyMs["p90"]:F4}\np99_ms={LatencyMs["p99"]:F4}\np999_ms={LatencyMs["p99.9"]:F4}\nmax_ms={LatencyMs["max"]:F4}\n");
        return sb.ToString();
    }

    /// <summary>Writes report.json, report.md and latency.svg into <paramref name="directory"/>.</summary>
    public void WriteReports(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, "report.json"), ToJson());
        File.WriteAllText(Path.Combine(directory, "report.md"), ToMarkdown());
        File.WriteAllText(Path.Combine(directory, "latency.svg"), ToSvg());
    }

    private static double NiceCeiling(double value)
    {
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (double step in new[] { 1, 2, 2.5, 5, 10 })
        {
            if (step * magnitude >= value)
            {
                return step * magnitude;
            }
        }

        return 10 * magnitude;
    }

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
