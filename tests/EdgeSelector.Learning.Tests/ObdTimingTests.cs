using EdgeSelector.Learning.Evaluation;
using EdgeSelector.Learning.Evaluation.Data;
using EdgeSelector.Learning.Evaluation.Policies;
using Xunit;

namespace EdgeSelector.Learning.Tests;

/// <summary>Timing tests run alone: on a 2-core machine a parallel test would be measured too.</summary>
[CollectionDefinition(nameof(TimingCollection), DisableParallelization = true)]
public sealed class TimingCollection;

[Collection(nameof(TimingCollection))]
public class ObdTimingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void Evaluate_ObdSample_AllEstimatorsWellUnderASecond()
    {
        var uniform = new ContextFreePolicy(
            from p in new[] { 1, 2, 3 } from i in Enumerable.Range(0, 34) select (i, (int?)p, 1.0 / 34));
        _ = OffPolicyEvaluator.Evaluate(new ObdSource(TestPaths.Campaign("men")), uniform, ["ips"]); // warm-up (JIT)

        var report = OffPolicyEvaluator.Evaluate(new ObdSource(TestPaths.Campaign("men")), uniform, OffPolicyEvaluator.AllEstimators);

        Assert.Equal(10_000, report.Rows);
        Assert.True(report.Elapsed < TimeSpan.FromSeconds(1), $"took {report.Elapsed.TotalMilliseconds} ms");
    }

    [Theory]
    [InlineData("ips")]
    [InlineData("snips")]
    [InlineData("dm")]
    [InlineData("dr")]
    [InlineData("replay")]
    public void Evaluate_ObdSample_EachEstimatorWellUnderASecond(string estimator)
    {
        var uniform = new ContextFreePolicy(
            from p in new[] { 1, 2, 3 } from i in Enumerable.Range(0, 34) select (i, (int?)p, 1.0 / 34));
        _ = OffPolicyEvaluator.Evaluate(new ObdSource(TestPaths.Campaign("men")), uniform, [estimator]);

        var report = OffPolicyEvaluator.Evaluate(new ObdSource(TestPaths.Campaign("men")), uniform, [estimator]);

        output.WriteLine($"{estimator}: {report.Elapsed.TotalMilliseconds:F0} ms for {report.Rows} rows");
        // Alone each takes 0.03-0.3 s; the bound leaves room for CI, which runs the test assemblies side by side.
        Assert.True(report.Elapsed < TimeSpan.FromSeconds(1), $"{estimator} took {report.Elapsed.TotalMilliseconds} ms");
    }
}
