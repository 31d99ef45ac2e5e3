using System.Globalization;
using System.Text;

namespace EdgeSelector.Server.Metrics;

/// <summary>The Prometheus metric types /metrics uses (the <c># TYPE</c> line).</summary>
internal enum MetricType
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>
/// The one writer of GET /metrics (Prometheus text exposition format 0.0.4): the node's own series, the health, rollout
/// and fleet series, the build and process series and the runtime's and Kestrel's meters (<see cref="MeterExporter"/>)
/// all go through it, so every family gets its <c># HELP</c> and <c># TYPE</c> once and every value is formatted the
/// same way. The conventions are checked where a family starts: a counter's name ends in <c>_total</c>, and no name
/// carries a non-base unit (<c>_microseconds</c>, <c>_milliseconds</c>, <c>_mb</c>, ...); docs/operations.md, "Metrics".
/// Runs a few times a minute, off the request path: it allocates freely.
/// </summary>
internal sealed class PrometheusWriter
{
    private static readonly string[] NonBaseUnits = ["_microseconds", "_milliseconds", "_nanoseconds", "_minutes", "_hours", "_kb", "_mb", "_gb", "_kilobytes", "_megabytes", "_percent"];
    private readonly StringBuilder _sb;
    private readonly HashSet<string> _families = new(StringComparer.Ordinal);

    /// <summary>A writer that appends to a new buffer of <paramref name="capacity"/> characters.</summary>
    public PrometheusWriter(int capacity = 16384) => _sb = new StringBuilder(capacity);

    /// <summary>The content type of the text format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Starts a family: its <c># HELP</c> and <c># TYPE</c> lines. False (and nothing written) if it was started already.</summary>
    /// <exception cref="ArgumentException">The name breaks a naming convention (a bug in the code that names it).</exception>
    public bool Family(string name, MetricType type, string help)
    {
        CheckName(name, type);
        if (!_families.Add(name))
        {
            return false;
        }

        _sb.Append("# HELP ").Append(name).Append(' ');
        foreach (var c in help)
        {
            _ = c switch
            {
                '\\' => _sb.Append("\\\\"),
                '\n' => _sb.Append("\\n"),
                _ => _sb.Append(c),
            };
        }

        _sb.Append("\n# TYPE ").Append(name).Append(' ').Append(type switch
        {
            MetricType.Counter => "counter",
            MetricType.Gauge => "gauge",
            _ => "histogram",
        }).Append('\n');
        return true;
    }

    /// <summary>A family with one unlabelled sample.</summary>
    public void Single(string name, MetricType type, string help, double value)
    {
        Family(name, type, help);
        Sample(name, value);
    }

    /// <summary>A sample without labels.</summary>
    public void Sample(string name, double value) => Line(name, null, value);

    /// <summary>A sample with one label.</summary>
    public void Sample(string name, string label, string labelValue, double value)
    {
        _sb.Append(name).Append('{').Append(label).Append("=\"");
        Escape(labelValue);
        _sb.Append("\"} ");
        Value(value);
    }

    /// <summary>A sample with labels already written as <c>k="v",k2="v2"</c> (see <see cref="Labels"/>); null or empty for none.</summary>
    public void Sample(string name, string? labels, double value) => Line(name, labels, value);

    /// <summary>Label pairs in the text format, values escaped: <c>k="v",k2="v2"</c>.</summary>
    public static string Labels(params ReadOnlySpan<(string Key, string Value)> pairs)
    {
        var sb = new StringBuilder();
        foreach (var (key, value) in pairs)
        {
            if (sb.Length > 0)
            {
                sb.Append(',');
            }

            sb.Append(key).Append("=\"");
            foreach (var c in value)
            {
                _ = c switch
                {
                    '\\' => sb.Append("\\\\"),
                    '"' => sb.Append("\\\""),
                    '\n' => sb.Append("\\n"),
                    _ => sb.Append(c),
                };
            }

            sb.Append('"');
        }

        return sb.ToString();
    }

    /// <summary>
    /// A histogram's series from per-bucket (not cumulative) counts: <c>_bucket{le}</c> cumulative with <c>+Inf</c> last,
    /// <c>_sum</c> and <c>_count</c>. <paramref name="counts"/> has one more element than <paramref name="bounds"/>.
    /// </summary>
    public void Histogram(string name, string? labels, ReadOnlySpan<double> bounds, ReadOnlySpan<long> counts, double sum)
    {
        long cumulative = 0;
        var prefix = string.IsNullOrEmpty(labels) ? string.Empty : labels + ",";
        for (var b = 0; b <= bounds.Length; b++)
        {
            cumulative += counts[b];
            var le = b < bounds.Length ? FormatBound(bounds[b]) : "+Inf";
            Line(name + "_bucket", prefix + "le=\"" + le + "\"", cumulative);
        }

        Line(name + "_sum", labels, sum);
        Line(name + "_count", labels, cumulative);
    }

    /// <summary>The text written so far.</summary>
    public override string ToString() => _sb.ToString();

    /// <summary>A value as the text format writes it: shortest round-trip form, <c>NaN</c>, <c>+Inf</c>, <c>-Inf</c>.</summary>
    public static string Format(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    // A bucket bound in plain decimal notation (le="0.00001", not "1E-05"): the label is matched as text by queries.
    private static string FormatBound(double bound) =>
        double.IsFinite(bound) && Math.Abs(bound) < 1e15 ? ((decimal)bound).ToString(CultureInfo.InvariantCulture) : Format(bound);

    /// <summary>Throws when a family name breaks the conventions /metrics promises (docs/operations.md, "Metrics").</summary>
    internal static void CheckName(string name, MetricType type)
    {
        if (name.Length == 0 || !(char.IsAsciiLetterLower(name[0]) || name[0] == '_')
            || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
        {
            throw new ArgumentException($"metric name '{name}': lower-case letters, digits and '_' only", nameof(name));
        }

        if (type == MetricType.Counter != name.EndsWith("_total", StringComparison.Ordinal))
        {
            throw new ArgumentException($"metric '{name}': counters, and only counters, end in _total", nameof(name));
        }

        foreach (var unit in NonBaseUnits)
        {
            if (name.Contains(unit + "_", StringComparison.Ordinal) || name.EndsWith(unit, StringComparison.Ordinal))
            {
                throw new ArgumentException($"metric '{name}': base units only (seconds, bytes, ratio)", nameof(name));
            }
        }
    }

    private void Line(string name, string? labels, double value)
    {
        _sb.Append(name);
        if (!string.IsNullOrEmpty(labels))
        {
            _sb.Append('{').Append(labels).Append('}');
        }

        _sb.Append(' ');
        Value(value);
    }

    private void Value(double value)
    {
        // Integral values (every counter) print as integers: no "1E+15" for a large count.
        if (Math.Abs(value) < 9.007199254740992E15 && value == Math.Floor(value))
        {
            _sb.Append(((long)value).ToString(CultureInfo.InvariantCulture));
        }
        else
        {
            _sb.Append(Format(value));
        }

        _sb.Append('\n');
    }

    private void Escape(string value)
    {
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => _sb.Append("\\\\"),
                '"' => _sb.Append("\\\""),
                '\n' => _sb.Append("\\n"),
                _ => _sb.Append(c),
            };
        }
    }
}
