using System.Globalization;
using System.Text.RegularExpressions;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Metrics;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// GET /metrics in Prometheus conventions (docs/operations.md, "Metrics"): base units, counters in <c>_total</c>, one
/// HELP and TYPE per family before its samples, histograms cumulative, build_info, and the runtime's and Kestrel's
/// meters exported beside the node's own series.
/// </summary>
public class MetricsExpositionTests
{
    [Fact]
    public async Task Metrics_AfterTraffic_EverySeriesFollowsPrometheusConventions()
    {
        await using var server = await LiveServer.StartAsync();
        await using (var client = server.Client())
        {
            for (var i = 0; i < 20; i++)
            {
                await client.SelectAsync(new RequestContext { MemberId = 1, Country = CountryCode.Pack("US"), Device = DeviceClass.Phone, HourOfDay = 9, DayOfWeek = 1 }, new TitleCandidate(1001, 0.5f, false));
            }
        }

        // Kestrel records a connection's duration when it closes: wait (bounded) until the closed client shows.
        var text = string.Empty;
        for (var attempt = 0; attempt < 100 && !text.Contains("kestrel_connection_duration_seconds_count", StringComparison.Ordinal); attempt++)
        {
            text = await server.Anonymous.GetStringAsync("/metrics");
            await Task.Delay(50);
        }

        text = await server.Anonymous.GetStringAsync("/metrics"); // the scrapes before this one are in http_server_request_duration
        var families = Exposition.Parse(text);
        foreach (var family in families.Values)
        {
            Assert.True(family.Help is not null, $"{family.Name}: no # HELP");
            Assert.Equal(family.Type == "counter", family.Name.EndsWith("_total", StringComparison.Ordinal));
            Assert.DoesNotMatch("_(micro|milli|nano)seconds|_minutes|_hours|_(k|m|g)b$|_(kilo|mega|giga)bytes|_percent", family.Name);
            if (family.Type == "histogram")
            {
                AssertCumulative(family);
            }
        }

        Assert.Equal("histogram", families["edgeselector_request_duration_seconds"].Type);
        var samples = families.Values.SelectMany(f => f.Samples).ToDictionary(s => s.Series, s => s.Value);
        Assert.Equal(20, samples["edgeselector_requests_total{op=\"select\"}"]);
        Assert.Equal(20, samples["edgeselector_request_duration_seconds_count{op=\"select\"}"]);
        Assert.True(samples.ContainsKey("edgeselector_request_duration_seconds_bucket{op=\"select\",le=\"0.00001\"}"), "bounds in seconds, plain decimals");
        Assert.InRange(samples["edgeselector_request_duration_seconds_sum{op=\"select\"}"], 0, 20 * 1.0); // seconds: 20 answers on loopback within 1 s each
        Assert.DoesNotContain("microseconds", text, StringComparison.Ordinal);

        var buildInfo = Assert.Single(families["edgeselector_build_info"].Samples);
        Assert.Equal(1, buildInfo.Value);
        Assert.Matches("^edgeselector_build_info\\{version=\"\\d+\\.\\d+\\.\\d+[^\"]*\",commit=\"[0-9a-f]{7,40}|unknown\",runtime=\"\\.NET \\d+", buildInfo.Series);

        // The runtime's and Kestrel's own meters, in Prometheus naming, and the standard process series.
        Assert.Equal("counter", families["dotnet_gc_heap_total_allocated_bytes_total"].Type);
        Assert.Equal("counter", families["dotnet_gc_collections_total"].Type);
        Assert.Contains(families["dotnet_gc_collections_total"].Samples, s => s.Series.Contains("gc_heap_generation=\"gen0\"", StringComparison.Ordinal));
        Assert.Equal("gauge", families["dotnet_process_memory_working_set_bytes"].Type);
        Assert.Equal("gauge", families["dotnet_thread_pool_thread_count"].Type); // a level, though the runtime declares a counter
        Assert.Equal("histogram", families["kestrel_connection_duration_seconds"].Type);
        Assert.Equal("gauge", families["kestrel_active_connections"].Type);
        Assert.Equal("histogram", families["http_server_request_duration_seconds"].Type);
        Assert.True(samples["process_cpu_seconds_total"] > 0);
        Assert.True(samples["process_resident_memory_bytes"] > 0);
        Assert.True(samples["process_start_time_seconds"] > 1.7e9);

        // docs/operations.md lists every series a node serves.
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "operations.md"));
        var undocumented = families.Keys.Where(name => !doc.Contains($"`{name}`", StringComparison.Ordinal)).ToList();
        Assert.True(undocumented.Count == 0, "not in docs/operations.md, \"Metrics\": " + string.Join(", ", undocumented));
    }

    [Fact]
    public async Task Metrics_TwoNodesInOneProcess_EachExportsOnlyItsOwnKestrelMeter()
    {
        await using var first = await LiveServer.StartAsync();
        await using var second = await LiveServer.StartAsync();
        await using (var client = first.Client())
        {
            await client.PingAsync(1);
        }

        var text = string.Empty;
        for (var attempt = 0; attempt < 100 && !text.Contains("kestrel_connection_duration_seconds_count", StringComparison.Ordinal); attempt++)
        {
            text = await first.Anonymous.GetStringAsync("/metrics");
            await Task.Delay(50);
        }

        var port = first.BinaryPort.ToString(CultureInfo.InvariantCulture);
        Assert.Contains($"server_port=\"{port}\"", text, StringComparison.Ordinal);
        var secondText = await second.Anonymous.GetStringAsync("/metrics");
        Assert.DoesNotContain($"server_port=\"{port}\"", secondText, StringComparison.Ordinal);
        Exposition.Parse(secondText); // well formed on its own
    }

    [Theory]
    [InlineData("dotnet.gc.pause.time", "s", true, "dotnet_gc_pause_time_seconds_total", 1)]
    [InlineData("kestrel.connection.duration", "s", false, "kestrel_connection_duration_seconds", 1)]
    [InlineData("dotnet.gc.heap.total_allocated", "By", true, "dotnet_gc_heap_total_allocated_bytes_total", 1)]
    [InlineData("kestrel.active_connections", "{connection}", false, "kestrel_active_connections", 1)]
    [InlineData("db.client.operation.duration", "ms", false, "db_client_operation_duration_seconds", 0.001)]
    [InlineData("aspnetcore.routing.match_attempts", "{match_attempt}", true, "aspnetcore_routing_match_attempts_total", 1)]
    [InlineData("http.client.open_connections", "{connection}", false, "http_client_open_connections", 1)]
    [InlineData("cache.hit.ratio", "1", false, "cache_hit_ratio", 1)]
    public void PrometheusName_FollowsTheOpenTelemetryMapping(string instrument, string unit, bool monotonic, string expected, double expectedScale)
    {
        Assert.Equal(expected, MeterExporter.PrometheusName(instrument, unit, monotonic, out var scale));
        Assert.Equal(expectedScale, scale);
    }

    [Theory]
    [InlineData("edgeselector_requests", "counter")]
    [InlineData("edgeselector_connections_total", "gauge")]
    [InlineData("edgeselector_request_duration_microseconds", "histogram")]
    [InlineData("edgeselector_rss_mb", "gauge")]
    [InlineData("EdgeSelector_Requests_total", "counter")]
    public void Writer_NameAgainstTheConventions_Throws(string name, string typeName)
    {
        var type = Enum.Parse<MetricType>(typeName, ignoreCase: true);
        var writer = new PrometheusWriter();
        Assert.Throws<ArgumentException>(() => writer.Family(name, type, "help"));
        Assert.Empty(writer.ToString());
    }

    [Fact]
    public void Writer_Histogram_IsCumulativeWithInfAndEscapesLabels()
    {
        var writer = new PrometheusWriter();
        writer.Family("x_seconds", MetricType.Histogram, "a \\ help\nline");
        writer.Histogram("x_seconds", PrometheusWriter.Labels(("path", "a\"b\\c")), [0.00001, 0.5], [2, 3, 1], 0.25);
        Assert.False(writer.Family("x_seconds", MetricType.Histogram, "again"));
        Assert.Equal(
            "# HELP x_seconds a \\\\ help\\nline\n# TYPE x_seconds histogram\n" +
            "x_seconds_bucket{path=\"a\\\"b\\\\c\",le=\"0.00001\"} 2\n" +
            "x_seconds_bucket{path=\"a\\\"b\\\\c\",le=\"0.5\"} 5\n" +
            "x_seconds_bucket{path=\"a\\\"b\\\\c\",le=\"+Inf\"} 6\n" +
            "x_seconds_sum{path=\"a\\\"b\\\\c\"} 0.25\n" +
            "x_seconds_count{path=\"a\\\"b\\\\c\"} 6\n",
            writer.ToString());
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "EdgeSelector.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("EdgeSelector.sln not found above " + AppContext.BaseDirectory);
    }

    private static void AssertCumulative(Family family)
    {
        foreach (var group in family.Samples.Where(s => s.Series.StartsWith(family.Name + "_bucket", StringComparison.Ordinal))
                     .GroupBy(s => Regex.Replace(s.Series, ",?le=\"[^\"]*\"", string.Empty)["_bucket".Length..]))
        {
            var counts = group.Select(s => s.Value).ToArray();
            for (var i = 1; i < counts.Length; i++)
            {
                Assert.True(counts[i] >= counts[i - 1], $"{family.Name}: buckets not cumulative");
            }

            Assert.EndsWith("le=\"+Inf\"}", group.Last().Series, StringComparison.Ordinal);
            var labels = group.Key[family.Name.Length..].Replace("{}", string.Empty, StringComparison.Ordinal);
            var count = family.Samples.Single(s => s.Series == family.Name + "_count" + labels);
            Assert.Equal(count.Value, counts[^1]);
        }
    }
}

/// <summary>One family of the text format: its HELP, TYPE and samples (series with labels, value).</summary>
internal sealed record Family(string Name)
{
    public string? Help { get; set; }

    public string? Type { get; set; }

    public List<(string Series, double Value)> Samples { get; } = [];
}

/// <summary>A strict reader of the Prometheus text format (0.0.4) for the tests: fails on what Prometheus would refuse.</summary>
internal static partial class Exposition
{
    public static Dictionary<string, Family> Parse(string text)
    {
        var families = new Dictionary<string, Family>(StringComparer.Ordinal);
        Family? current = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0)
            {
                continue;
            }

            var comment = CommentLine().Match(line);
            if (comment.Success)
            {
                var name = comment.Groups[2].Value;
                if (current?.Name != name)
                {
                    Assert.False(families.ContainsKey(name), $"family {name} appears twice");
                    current = families[name] = new Family(name);
                }

                if (comment.Groups[1].Value == "HELP")
                {
                    Assert.Null(current.Help);
                    current.Help = comment.Groups[3].Value;
                }
                else
                {
                    Assert.Null(current.Type);
                    Assert.Contains(comment.Groups[3].Value, new[] { "counter", "gauge", "histogram" });
                    current.Type = comment.Groups[3].Value;
                }

                continue;
            }

            var sample = SampleLine().Match(line);
            Assert.True(sample.Success, $"not a sample line: {line}");
            var metric = sample.Groups[1].Value;
            Assert.True(current is not null && current.Type is not null, $"{metric}: sample before its # TYPE");
            var family = current.Type == "histogram" ? Regex.Replace(metric, "_(bucket|sum|count)$", string.Empty) : metric;
            Assert.True(family == current.Name, $"{metric} is not in its family's group (after {current.Name})");
            var value = sample.Groups[3].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                var v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            current.Samples.Add((metric + sample.Groups[2].Value, value));
        }

        return families;
    }

    [GeneratedRegex("^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$")]
    private static partial Regex CommentLine();

    [GeneratedRegex("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\]|\\\\.)*\",?)*\\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$")]
    private static partial Regex SampleLine();
}
