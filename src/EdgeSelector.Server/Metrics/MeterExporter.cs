using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace EdgeSelector.Server.Metrics;

/// <summary>
/// Exports the <see cref="System.Diagnostics.Metrics"/> meters of the runtime and ASP.NET Core (<see cref="Meters"/>:
/// System.Runtime, Kestrel, hosting, routing, ...) through <see cref="PrometheusWriter"/>, named as the OpenTelemetry
/// Prometheus exporter names them: dots become underscores, the unit becomes a suffix (<c>s</c> → <c>_seconds</c>,
/// <c>By</c> → <c>_bytes</c>, <c>ms</c> → converted to seconds, <c>{connection}</c> → nothing), counters get
/// <c>_total</c>; tag keys likewise (<c>gc.heap.generation</c> → <c>gc_heap_generation</c>). docs/operations.md, "Metrics".
/// <para>
/// Observable instruments (all of System.Runtime) are read only when /metrics is scraped. Recorded instruments call
/// back on the recording thread: Kestrel per connection (opened, closed, rejected), hosting per admin-port HTTP
/// request. None of them records per binary or RESP request, so the request path gains no callback, lock or
/// allocation; the serving counters stay hand-written striped counters (<see cref="ServerMetrics"/>).
/// </para>
/// </summary>
internal sealed class MeterExporter : IDisposable
{
    /// <summary>The meters exported (docs/operations.md lists their series).</summary>
    public static IReadOnlyList<string> Meters { get; } =
    [
        "System.Runtime",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Routing",
        "Microsoft.AspNetCore.Diagnostics",
        "System.Net.NameResolution", // the NATS servers' host names, in a fleet
    ];

    // Instruments the runtime declares as observable counters although they report a level that goes down as well as
    // up (threads, queued items): exported as gauges, so that rate() is never applied to a level.
    private static readonly string[] Levels = ["dotnet.thread_pool.thread.count", "dotnet.thread_pool.queue.length"];

    // OpenTelemetry's default histogram bounds, in seconds, for a seconds histogram that gives no advice.
    private static readonly double[] DefaultSecondsBounds = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
    private static readonly double[] DefaultBounds = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    private readonly MeterListener _listener = new();
    private readonly object? _scope;
    private readonly List<Exported> _instruments = [];

    /// <summary>Starts listening.</summary>
    /// <param name="scope">
    /// The host's <see cref="IMeterFactory"/>: meters it created are exported, other hosts' in the same process (tests)
    /// are not. Meters without a scope (System.Runtime) are process-wide and always exported.
    /// </param>
    public MeterExporter(IMeterFactory? scope)
    {
        _scope = scope;
        _listener.InstrumentPublished = OnPublished;
        _listener.SetMeasurementEventCallback<long>(static (i, v, tags, state) => ((Exported)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<int>(static (i, v, tags, state) => ((Exported)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<short>(static (i, v, tags, state) => ((Exported)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<byte>(static (i, v, tags, state) => ((Exported)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<double>(static (i, v, tags, state) => ((Exported)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<float>(static (i, v, tags, state) => ((Exported)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<decimal>(static (i, v, tags, state) => ((Exported)state!).Record((double)v, tags));
        _listener.Start();
    }

    /// <summary>The Prometheus name of an instrument (docs/operations.md, "Metrics").</summary>
    internal static string PrometheusName(string name, string? unit, bool monotonic, out double scale)
    {
        var sb = new StringBuilder(name.Length + 16);
        foreach (var c in name)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '_');
        }

        scale = 1;
        var suffix = unit switch
        {
            "s" => "seconds",
            "ms" => Scaled(0.001, out scale),
            "us" or "μs" => Scaled(1e-6, out scale),
            "ns" => Scaled(1e-9, out scale),
            "By" => "bytes",
            "1" when !monotonic => "ratio",
            null or "" or "1" => null,
            _ when unit.StartsWith('{') => null, // an annotation ({connection}): a count, no unit
            _ => null,
        };
        if (suffix is not null && !EndsWith(sb, "_" + suffix))
        {
            sb.Append('_').Append(suffix);
        }

        if (monotonic && !EndsWith(sb, "_total"))
        {
            sb.Append("_total");
        }

        return sb.ToString();

        static string Scaled(double factor, out double scale)
        {
            scale = factor;
            return "seconds";
        }
    }

    /// <summary>Reads the observable instruments and writes every exported instrument's family.</summary>
    public void Write(PrometheusWriter w)
    {
        lock (_instruments)
        {
            _listener.RecordObservableInstruments(); // delivers each observation to Record, under this lock: one scrape at a time
            foreach (var instrument in _instruments.OrderBy(i => i.Name, StringComparer.Ordinal))
            {
                instrument.Write(w);
            }
        }
    }

    public void Dispose() => _listener.Dispose();

    private void OnPublished(Instrument instrument, MeterListener listener)
    {
        var meter = instrument.Meter;
        if (!Meters.Contains(meter.Name) || (meter.Scope is not null && !ReferenceEquals(meter.Scope, _scope)))
        {
            return;
        }

        var kind = Levels.Contains(instrument.Name) ? Kind.Last : instrument switch
        {
            Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double> => Kind.Counter,
            Histogram<long> or Histogram<int> or Histogram<double> => Kind.Histogram,
            UpDownCounter<long> or UpDownCounter<int> or UpDownCounter<double> => Kind.Sum,
            _ when instrument.IsObservable => Kind.Last, // observable gauges and up-down counters report the current value
            _ => Kind.Last, // Gauge<T>
        };
        var name = PrometheusName(instrument.Name, instrument.Unit, kind == Kind.Counter, out var scale);
        var bounds = kind != Kind.Histogram ? [] : Bounds(instrument) ?? (name.EndsWith("_seconds", StringComparison.Ordinal) ? DefaultSecondsBounds : DefaultBounds);
        var help = string.IsNullOrWhiteSpace(instrument.Description) ? $"{meter.Name} {instrument.Name}" : instrument.Description;
        var exported = new Exported(name, help + $" ({meter.Name} {instrument.Name})", kind, instrument.IsObservable, scale, bounds);
        lock (_instruments)
        {
            if (_instruments.Any(i => i.Name == name))
            {
                return; // two meters' instruments mapped to one name: the first is exported (a family appears once)
            }

            _instruments.Add(exported);
        }

        listener.EnableMeasurementEvents(instrument, exported);
    }

    // The bucket bounds an instrument advises (Kestrel and hosting advise theirs), scaled to its exported unit.
    private static double[]? Bounds(Instrument instrument) => instrument switch
    {
        Histogram<double> h => h.Advice?.HistogramBucketBoundaries?.ToArray(),
        Histogram<long> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
        Histogram<int> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
        _ => null,
    };

    private static bool EndsWith(StringBuilder sb, string suffix)
    {
        if (sb.Length < suffix.Length)
        {
            return false;
        }

        for (var i = 0; i < suffix.Length; i++)
        {
            if (sb[sb.Length - suffix.Length + i] != suffix[i])
            {
                return false;
            }
        }

        return true;
    }

    private enum Kind
    {
        Counter,
        Sum,
        Last,
        Histogram,
    }

    // One instrument's series, keyed by their tags (few per instrument: a linear search, no key allocated per call).
    // An observable instrument reports its current value (a counter: its running total): the last observation is kept.
    private sealed class Exported(string name, string help, Kind kind, bool observed, double scale, double[] bounds)
    {
        private readonly List<Series> _series = [];

        public string Name { get; } = name;

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            value *= scale;
            lock (_series)
            {
                var series = Find(tags);
                switch (kind)
                {
                    case Kind.Last:
                    case Kind.Counter or Kind.Sum when observed:
                        series.Value = value;
                        break;
                    case Kind.Histogram:
                        var bucket = 0;
                        while (bucket < bounds.Length && value > bounds[bucket])
                        {
                            bucket++;
                        }

                        series.Buckets![bucket]++;
                        series.Value += value;
                        break;
                    default:
                        series.Value += value;
                        break;
                }
            }
        }

        public void Write(PrometheusWriter w)
        {
            lock (_series)
            {
                if (_series.Count == 0)
                {
                    return;
                }

                w.Family(Name, kind switch
                {
                    Kind.Counter => MetricType.Counter,
                    Kind.Histogram => MetricType.Histogram,
                    _ => MetricType.Gauge,
                }, help);
                foreach (var series in _series)
                {
                    if (kind == Kind.Histogram)
                    {
                        w.Histogram(Name, series.Labels, bounds, series.Buckets, series.Value);
                    }
                    else
                    {
                        w.Sample(Name, series.Labels, series.Value);
                    }
                }
            }
        }

        private Series Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var series in _series)
            {
                if (series.Matches(tags))
                {
                    return series;
                }
            }

            var added = new Series(tags, kind == Kind.Histogram ? bounds.Length + 1 : 0);
            _series.Add(added);
            return added;
        }
    }

    private sealed class Series
    {
        private readonly KeyValuePair<string, string>[] _tags;

        public Series(ReadOnlySpan<KeyValuePair<string, object?>> tags, int buckets)
        {
            _tags = new KeyValuePair<string, string>[tags.Length];
            for (var i = 0; i < tags.Length; i++)
            {
                _tags[i] = new(tags[i].Key, Text(tags[i].Value));
            }

            var pairs = _tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => (LabelName(t.Key), t.Value)).ToArray();
            Labels = PrometheusWriter.Labels(pairs);
            Buckets = new long[buckets];
        }

        public string Labels { get; }

        public long[] Buckets { get; }

        public double Value { get; set; }

        public bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length != _tags.Length)
            {
                return false;
            }

            for (var i = 0; i < tags.Length; i++)
            {
                if (tags[i].Key != _tags[i].Key || !Same(tags[i].Value, _tags[i].Value))
                {
                    return false;
                }
            }

            return true;
        }

        private static bool Same(object? value, string text) => value switch
        {
            string s => s == text,
            null => text.Length == 0,
            bool b => (b ? "true" : "false") == text,
            _ => Text(value) == text, // a boxed number (a port): allocates, once per connection at most
        };

        // Tag values as OpenTelemetry writes them: booleans lower-case, numbers invariant.
        private static string Text(object? value) => value switch
        {
            null => string.Empty,
            bool b => b ? "true" : "false",
            _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty,
        };

        private static string LabelName(string key)
        {
            var chars = key.ToCharArray();
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = char.IsAsciiLetterOrDigit(chars[i]) ? chars[i] : '_';
            }

            return new string(chars);
        }
    }
}
