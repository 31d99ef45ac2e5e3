using System.Diagnostics;
using System.Globalization;
using System.Net;
using HdrHistogram;

namespace EdgeSelector.LoadTest;

/// <summary>Runs a load: opens the connections, shares them among driver threads, prints a progress line every second, and returns the result.</summary>
public static class LoadRunner
{
    /// <summary>Runs <paramref name="options"/> to completion (bounded by its duration and request budget).</summary>
    /// <param name="options">The run.</param>
    /// <param name="progress">Where the one-line progress goes every second (null = nowhere).</param>
    /// <param name="cancel">Stops the run early; what was measured so far is reported.</param>
    public static LoadResult Run(LoadOptions options, TextWriter? progress, CancellationToken cancel = default)
    {
        options.Validate();
        var endPoint = new IPEndPoint(options.ResolveHost(), options.Port);
        var connections = new LoadConnection[options.Connections];
        try
        {
            for (int i = 0; i < connections.Length; i++)
            {
                connections[i] = options.Protocol == TargetProtocol.Binary
                    ? new BinaryConnection(endPoint, options, i)
                    : new RespConnection(endPoint, options, i);
            }
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            foreach (var c in connections)
            {
                c?.Dispose();
            }

            throw new IOException($"cannot connect to {endPoint}: {ex.Message}", ex);
        }

        try
        {
            return RunConnected(options, connections, progress, cancel);
        }
        finally
        {
            foreach (var c in connections)
            {
                c.Dispose();
            }
        }
    }

    private static LoadResult RunConnected(LoadOptions options, LoadConnection[] connections, TextWriter? progress, CancellationToken cancel)
    {
        long f = Stopwatch.Frequency;
        long start = Stopwatch.GetTimestamp();
        long measureFrom = start + (long)(options.WarmupSeconds * f);
        long end = measureFrom + (long)(options.DurationSeconds * f);
        long budget = options.MaxRequests > 0 ? Math.Max(1, options.MaxRequests / connections.Length) : long.MaxValue;
        double ratePerConnection = options.Rate / connections.Length;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        int threadCount = options.Threads > 0 ? Math.Min(options.Threads, connections.Length) : Math.Min(Environment.ProcessorCount, connections.Length);
        var threads = new Thread[threadCount];
        for (int t = 0; t < threads.Length; t++)
        {
            var group = connections.Where((_, i) => i % threadCount == t).ToArray();
            var driver = new LoadDriver(group, options, start, end, budget, ratePerConnection);
            threads[t] = new Thread(() => driver.Run(stop.Token)) { IsBackground = true, Name = $"load-{t}" };
            threads[t].Start();
        }

        var total = LoadConnection.NewHistogram();
        bool measuring = false;
        Counters atMeasureStart = default;
        long measureStartStamp = measureFrom;
        Counters last = default;
        long lastStamp = start;
        while (true)
        {
            bool done = threads.All(t => !t.IsAlive);
            if (!done)
            {
                Thread.Sleep(100);
                done = threads.All(t => !t.IsAlive);
            }

            long now = Stopwatch.GetTimestamp();
            if (!measuring && (now >= measureFrom || done))
            {
                // Warm-up over: drop what it recorded and start counting from here.
                foreach (var c in connections)
                {
                    c.DrainHistogram(null);
                }

                atMeasureStart = Counters.Sum(connections);
                measureStartStamp = now;
                measuring = true;
            }
            else if (measuring)
            {
                foreach (var c in connections)
                {
                    c.DrainHistogram(total);
                }
            }

            var current = Counters.Sum(connections);
            if (progress is not null && (now - lastStamp >= f || done))
            {
                double seconds = (now - lastStamp) / (double)f;
                double rate = (current.Completed - last.Completed) / seconds;
                double elapsed = (now - start) / (double)f;
                string phase = measuring ? "run " : "warm";
                string p99 = measuring && total.TotalCount > 0 ? Ms(total.GetValueAtPercentile(99)) : "-";
                progress.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"[{phase} {elapsed,6:F1}s] {rate,12:N0} req/s  {(current.Selections - last.Selections) / seconds,12:N0} sel/s  errors {current.Errors - atMeasureStart.Errors}  fallbacks {current.Fallbacks - atMeasureStart.Fallbacks}  p99 {p99} ms"));
                last = current;
                lastStamp = now;
            }

            if (done)
            {
                break;
            }

            if (now > end + (5 * f))
            {
                stop.Cancel(); // a connection is stuck past its drain time: stop waiting for it
            }
        }

        long measuredEnd = Math.Min(Stopwatch.GetTimestamp(), end);
        var final = Counters.Sum(connections) - atMeasureStart;
        double measuredSeconds = Math.Max(1e-9, (measuredEnd - measureStartStamp) / (double)f);
        var failures = connections.Select(c => c.Failure).Where(x => x is not null).Cast<string>().Distinct().ToList();
        return LoadResult.From(options, total, final, measuredSeconds, failures);
    }

    private static string Ms(long ns) => (ns / 1e6).ToString("F3", CultureInfo.InvariantCulture);
}

/// <summary>Counters summed over the connections.</summary>
public readonly record struct Counters(long Completed, long Selections, long Errors, long Fallbacks, long Rewards, long Sent)
{
    /// <summary>Sums the live counters (each read once; they only grow).</summary>
    public static Counters Sum(IEnumerable<LoadConnection> connections)
    {
        Counters sum = default;
        foreach (var c in connections)
        {
            sum += new Counters(
                Volatile.Read(ref c.Completed), Volatile.Read(ref c.Selections), Volatile.Read(ref c.Errors),
                Volatile.Read(ref c.Fallbacks), Volatile.Read(ref c.Rewards), Volatile.Read(ref c.Sent));
        }

        return sum;
    }

    /// <summary>Adds counters.</summary>
    public static Counters operator +(Counters a, Counters b) => new(
        a.Completed + b.Completed, a.Selections + b.Selections, a.Errors + b.Errors, a.Fallbacks + b.Fallbacks, a.Rewards + b.Rewards, a.Sent + b.Sent);

    /// <summary>Subtracts counters.</summary>
    public static Counters operator -(Counters a, Counters b) => new(
        a.Completed - b.Completed, a.Selections - b.Selections, a.Errors - b.Errors, a.Fallbacks - b.Fallbacks, a.Rewards - b.Rewards, a.Sent - b.Sent);
}
