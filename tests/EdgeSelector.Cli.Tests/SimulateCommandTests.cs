using System.Text.Json;
using EdgeSelector.Learning.Simulation;

namespace EdgeSelector.Cli.Tests;

/// <summary><c>edgesel simulate</c> then <c>edgesel evaluate</c> on the files it wrote.</summary>
public class SimulateCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    [Fact]
    public void SimulateThenEvaluate_ImpressionFiles_EstimatesCoverTheTruth()
    {
        using var dir = new TempDirectory();
        var scenario = dir.File("world.json");
        File.WriteAllText(scenario, """{ "members": 100, "titles": 20, "images_min": 3, "images_max": 3, "impressions": 20000 }""");

        var (code, stdout, stderr) = Run("simulate", "--scenario", scenario, "--out", dir.FullName, "--seed", "3", "--json");
        Assert.True(code == 0, stderr);
        using var truth = JsonDocument.Parse(stdout);
        Assert.Equal(WorldPolicies.Names, truth.RootElement.EnumerateObject().Select(p => p.Name));
        // Click-bait wins on play starts and loses on quality plays against the engine's choice.
        var clickbait = truth.RootElement.GetProperty("clickbait-greedy");
        var engine = truth.RootElement.GetProperty("engine-epsilon");
        Assert.True(clickbait.GetProperty("play_start").GetDouble() > engine.GetProperty("play_start").GetDouble());
        Assert.True(clickbait.GetProperty("quality").GetDouble() < engine.GetProperty("quality").GetDouble());

        foreach (var policy in new[] { "default", "engine-epsilon" })
        {
            var (evalCode, evalOut, evalErr) = Run(
                "evaluate", "--format", "impressions", "--data", Path.Combine(dir.FullName, "impressions.esrf"),
                "--reward", "quality", "--policy", Path.Combine(dir.FullName, $"policy-{policy}.csv"), "--json");
            Assert.True(evalCode == 0, evalErr);
            using var estimates = JsonDocument.Parse(evalOut);
            var value = truth.RootElement.GetProperty(policy).GetProperty("quality").GetDouble();
            foreach (var estimator in new[] { "ips", "snips", "dr" })
            {
                var e = estimates.RootElement.GetProperty(estimator);
                // Two interval half-widths (~4 standard errors) either side: a seeded run, far from flaky, that still
                // catches a wrong join, weight or reward.
                var halfWidth = (e.GetProperty("ci_high").GetDouble() - e.GetProperty("ci_low").GetDouble()) / 2;
                Assert.InRange(value, e.GetProperty("value").GetDouble() - (2 * halfWidth), e.GetProperty("value").GetDouble() + (2 * halfWidth));
            }
        }
    }

    [Fact]
    public void Evaluate_EnginePolicyOverModelDirectory_MatchesItsPerRowDistributions()
    {
        using var dir = new TempDirectory();
        var scenario = dir.File("world.json");
        File.WriteAllText(scenario, """{ "members": 50, "titles": 10, "images_min": 2, "images_max": 5, "impressions": 5000 }""");
        Assert.Equal(0, Run("simulate", "--scenario", scenario, "--out", dir.FullName).Code);
        var data = Path.Combine(dir.FullName, "impressions.esrf");

        var (code, viaEngine, stderr) = Run(
            "evaluate", "--format", "impressions", "--data", data, "--reward", "quality",
            "--policy", Path.Combine(dir.FullName, "models"), "--engine-policy", "epsilon-greedy", "--epsilon", "0.1", "--json");
        Assert.True(code == 0, stderr);
        var (_, viaFile, _) = Run(
            "evaluate", "--format", "impressions", "--data", data, "--reward", "quality",
            "--policy", Path.Combine(dir.FullName, "policy-engine-epsilon.csv"), "--json");

        using var engine = JsonDocument.Parse(viaEngine);
        using var file = JsonDocument.Parse(viaFile);
        foreach (var estimator in new[] { "ips", "snips", "dm", "dr", "replay" })
        {
            Assert.Equal(
                file.RootElement.GetProperty(estimator).GetProperty("value").GetDouble(),
                engine.RootElement.GetProperty(estimator).GetProperty("value").GetDouble(), 12);
        }
    }

    [Fact]
    public void Evaluate_EnginePolicyOnNonImpressionData_ExitsWithMessage()
    {
        using var dir = new TempDirectory();
        Assert.Equal(0, Run("simulate", "--scenario", WriteTiny(dir), "--out", dir.FullName).Code);

        var (code, _, stderr) = Run(
            "evaluate", "--format", "obd", "--data", TestPaths.Campaign("men"), "--policy", Path.Combine(dir.FullName, "models"));

        Assert.Equal(1, code);
        Assert.Contains("needs an impression log", stderr, StringComparison.Ordinal);
    }

    private static string WriteTiny(TempDirectory dir)
    {
        var path = dir.File("tiny.json");
        File.WriteAllText(path, """{ "members": 5, "titles": 2, "impressions": 10 }""");
        return path;
    }

}
