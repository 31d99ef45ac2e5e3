using System.Reflection;
using System.Runtime.InteropServices;

namespace EdgeSelector.Server.Metrics;

/// <summary>
/// What binary this is: the version and the commit it was built from (the assembly's informational version,
/// <c>1.0.0+&lt;commit&gt;</c>, which the SDK stamps from git), and the runtime. Shown by <c>--version</c>,
/// <c>edgeselector_build_info</c> in /metrics and RESP <c>INFO server</c>.
/// </summary>
internal static class BuildInfo
{
    private static readonly string Informational =
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>The version without the commit (<c>1.0.0</c>).</summary>
    public static string Version { get; } = Informational.Split('+')[0];

    /// <summary>The commit the binary was built from, or <c>unknown</c> when it was built outside a git checkout.</summary>
    public static string Commit { get; } = Informational.Split('+') is [_, var commit, ..] && commit.Length > 0 ? commit : "unknown";

    /// <summary>The runtime (<c>.NET 10.0.0</c>).</summary>
    public static string Runtime { get; } = RuntimeInformation.FrameworkDescription;

    /// <summary>When the process started (UTC).</summary>
    public static DateTimeOffset ProcessStart { get; } = new(System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime());

    /// <summary>Writes <c>edgeselector_build_info{version,commit,runtime} 1</c>.</summary>
    public static void Write(PrometheusWriter w)
    {
        w.Family("edgeselector_build_info", MetricType.Gauge, "Always 1; the labels say which binary answers: version, commit it was built from, .NET runtime.");
        w.Sample("edgeselector_build_info", PrometheusWriter.Labels(("version", Version), ("commit", Commit), ("runtime", Runtime)), 1);
    }
}
