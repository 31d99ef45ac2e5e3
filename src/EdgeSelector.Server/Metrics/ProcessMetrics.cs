namespace EdgeSelector.Server.Metrics;

/// <summary>
/// The Prometheus client libraries' standard <c>process_*</c> series (the names every Prometheus dashboard expects),
/// read when /metrics is scraped: CPU seconds, resident and virtual memory, open and maximum file descriptors, start
/// time. The runtime's own view (<c>dotnet_process_*</c>, <c>dotnet_gc_*</c>) comes from System.Runtime (<see cref="MeterExporter"/>).
/// </summary>
internal static class ProcessMetrics
{
    /// <summary>Writes the process series.</summary>
    public static void Write(PrometheusWriter w)
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        w.Single("process_cpu_seconds_total", MetricType.Counter, "Total user and system CPU time spent in seconds.", Environment.CpuUsage.TotalTime.TotalSeconds);
        w.Single("process_resident_memory_bytes", MetricType.Gauge, "Resident memory size in bytes.", Environment.WorkingSet);
        w.Single("process_virtual_memory_bytes", MetricType.Gauge, "Virtual memory size in bytes.", process.VirtualMemorySize64);
        w.Single("process_start_time_seconds", MetricType.Gauge, "Start time of the process since unix epoch in seconds.", BuildInfo.ProcessStart.ToUnixTimeMilliseconds() / 1000.0);
        if (OpenFileDescriptors() is { } open)
        {
            w.Single("process_open_fds", MetricType.Gauge, "Number of open file descriptors.", open);
        }

        if (MaxFileDescriptors() is { } max)
        {
            w.Single("process_max_fds", MetricType.Gauge, "Maximum number of open file descriptors.", max);
        }
    }

    private static long? OpenFileDescriptors()
    {
        try
        {
            return Directory.Exists("/proc/self/fd") ? Directory.EnumerateFileSystemEntries("/proc/self/fd").LongCount() : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    // "Max open files            1048576              1048576              files" in /proc/self/limits (the soft limit).
    private static long? MaxFileDescriptors()
    {
        try
        {
            if (!File.Exists("/proc/self/limits"))
            {
                return null;
            }

            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return fields.Length > 0 && long.TryParse(fields[0], System.Globalization.CultureInfo.InvariantCulture, out var max) ? max : null;
                }
            }

            return null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
