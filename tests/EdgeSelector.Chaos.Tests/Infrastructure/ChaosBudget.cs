namespace EdgeSelector.Chaos.Tests.Infrastructure;

/// <summary>
/// How much chaos one run does. The short form (default, what <c>.ci/run</c> runs) keeps the whole suite to about
/// three minutes on a loaded 2-core machine; <c>EDGESELECTOR_CHAOS=long</c> selects the long form (README.md).
/// Every loop of the suite takes its count and its time limit from here: nothing runs unbounded.
/// </summary>
internal static class ChaosBudget
{
    /// <summary>The environment variable that selects the long form.</summary>
    public const string Variable = "EDGESELECTOR_CHAOS";

    /// <summary>True when <c>EDGESELECTOR_CHAOS=long</c>.</summary>
    public static bool Long { get; } = string.Equals(Environment.GetEnvironmentVariable(Variable), "long", StringComparison.OrdinalIgnoreCase);

    /// <summary>kill -9 cycles (start, load, kill, restart, check).</summary>
    public static int KillCycles => Long ? 6 : 1;

    /// <summary>Slowloris waves against both ports.</summary>
    public static int SlowlorisWaves => Long ? 4 : 1;

    /// <summary>Generated inputs per fuzz target.</summary>
    public static int FuzzIterations => Long ? 200_000 : 5_000;

    /// <summary>Generated HTTP bodies per admin endpoint (each is a request to a real node).</summary>
    public static int AdminBodies => Long ? 3_000 : 150;

    /// <summary>Wall-clock cap for one fuzz target, whatever its iteration count.</summary>
    public static TimeSpan FuzzTime => Long ? TimeSpan.FromMinutes(5) : TimeSpan.FromSeconds(20);
}
