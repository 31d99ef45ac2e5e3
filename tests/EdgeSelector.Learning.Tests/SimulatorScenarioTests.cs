using EdgeSelector.Learning.Simulation;
using Xunit;

namespace EdgeSelector.Learning.Tests;

/// <summary>The simulator's scenario file and the engine policy's fallback rows (the CLI's own tests are in EdgeSelector.Cli.Tests).</summary>
public class SimulatorScenarioTests
{
    [Fact]
    public void Scenario_KeysLeftOut_KeepTheirDefaults()
    {
        using var dir = new TempDirectory();
        var path = dir.File("s.json");
        File.WriteAllText(path, """{ "members": 7, /* comments are allowed */ "titles": 3 }""");

        var scenario = Scenario.Load(path);

        Assert.Equal(7, scenario.Members);
        Assert.Equal(3, scenario.Titles);
        Assert.Equal(new Scenario().BaseLogit, scenario.BaseLogit);
        Assert.Equal(new Scenario().BaseBounce, scenario.BaseBounce);
        Assert.Equal("uniform", scenario.LoggingPolicy);
    }

    [Fact]
    public void EnginePolicy_ServerFallbackRow_KeepsTheLoggedDefaultImage()
    {
        var world = new SimulatedWorld(new Scenario { Members = 3, Titles = 2 });
        var models = world.Titles.ToDictionary(t => t.Id, t => WorldPolicies.BuildModel(world, t, Core.Features.FeatureSpace.Default).Serialize());
        var policy = new Evaluation.Policies.EnginePolicy(models, new Core.Selection.SelectionOptions());
        // What the server logs on a fallback: no candidates, index 0, propensity 1.
        var record = world.Record(1, 0, 0, 0, 0, 1.0, Core.Exploration.PolicyKind.EpsilonGreedy);
        record.CandidateCount = 0;
        record.Fallback = Primitives.FallbackReason.Deadline;
        var sample = new Evaluation.LoggedSample(Evaluation.Data.ImpressionLogSource.Names.Count);
        Evaluation.Data.ImpressionLogSource.Fill(record, 0, sample);

        using var cursor = policy.Open();
        cursor.MoveTo(sample);

        Assert.Equal(1.0, cursor.Probability(0));
        Assert.Equal([new Evaluation.Policies.ActionProbability(0, 1)], cursor.Distribution.ToArray());
    }
}
