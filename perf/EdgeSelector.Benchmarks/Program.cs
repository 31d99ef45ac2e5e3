using BenchmarkDotNet.Running;

namespace EdgeSelector.Benchmarks;

/// <summary>Runs the benchmarks chosen by <c>--filter</c>.</summary>
public static class Program
{
    /// <summary>BenchmarkDotNet's switcher: every class in this assembly, picked by the command line.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
