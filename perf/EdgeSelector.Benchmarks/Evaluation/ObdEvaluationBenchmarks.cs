using BenchmarkDotNet.Attributes;
using EdgeSelector.Learning.Evaluation;
using EdgeSelector.Learning.Evaluation.Data;
using EdgeSelector.Learning.Evaluation.Policies;

namespace EdgeSelector.Benchmarks.Evaluation;

/// <summary>
/// Time to evaluate a uniform context-free policy on the Open Bandit Dataset sample (men, 10,000 rows) with each
/// estimator alone, reading the CSV each time (what <c>edgesel evaluate</c> does). docs/evaluation.md records it.
/// The sample is found at EDGESEL_OBD_DIR or at shared/data/obd/random beside the checkout.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 5)]
public class ObdEvaluationBenchmarks
{
    private ContextFreePolicy _uniform = null!;
    private string _campaign = string.Empty;

    /// <summary>The estimator.</summary>
    [Params("ips", "snips", "dm", "dr", "replay")]
    public string Estimator { get; set; } = "ips";

    [GlobalSetup]
    public void Setup()
    {
        _campaign = Path.Combine(FindObd(), "men");
        _uniform = new ContextFreePolicy(from p in new[] { 1, 2, 3 } from i in Enumerable.Range(0, 34) select (i, (int?)p, 1.0 / 34));
    }

    [Benchmark]
    public double Evaluate() => OffPolicyEvaluator.Evaluate(new ObdSource(_campaign), _uniform, [Estimator]).Rows;

    private static string FindObd()
    {
        var fromEnv = Environment.GetEnvironmentVariable("EDGESEL_OBD_DIR");
        if (!string.IsNullOrEmpty(fromEnv) && Directory.Exists(fromEnv))
        {
            return fromEnv;
        }

        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "data", "obd", "random");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new DirectoryNotFoundException("OBD sample not found: set EDGESEL_OBD_DIR to shared/data/obd/random");
    }
}
