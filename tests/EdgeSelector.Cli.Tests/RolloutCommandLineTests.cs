namespace EdgeSelector.Cli.Tests;

/// <summary>
/// The fleet rollout's command line without a NATS server (docs/rollout.md, "Fleet"): bad input is refused before
/// anything is published. With a server: tests/EdgeSelector.Fleet.Tests/FleetRolloutTests.cs.
/// </summary>
public class RolloutCommandLineTests
{
    [Theory]
    [InlineData("--fraction must be in 0..1 (got '1.5').", "rollout start --nats nats://127.0.0.1:9 --bundle b.esb --fraction 1.5")]
    [InlineData("--fraction must be in 0..1 (got '-0.1').", "rollout start --nats nats://127.0.0.1:9 --bundle b.esb --fraction -0.1")]
    [InlineData("Option '--bundle' is required.", "rollout start --nats nats://127.0.0.1:9")]
    [InlineData("Option '--nats' is required.", "rollout promote")]
    [InlineData("Option '--nats' is required.", "rollout status")]
    [InlineData("--rollout-alpha applies to --nats only.", "train --models m --data-dir d --rollout-alpha 0.01")]
    [InlineData("--no-rollout-decide applies to --nats only.", "train --models m --data-dir d --no-rollout-decide")]
    [InlineData("--rollout-margin must be in 0..1 (got '2').", "train --models m --nats nats://127.0.0.1:9 --rollout-margin 2")]
    public void RolloutOptions_WrongCombinationOrValue_ExitTwo_SaysWhy(string expected, string command)
    {
        var (code, stdout, stderr) = CliRunner.Run(command.Split(' '));

        Assert.True(code == 2, $"edgesel {command}: exit {code}: {stderr}");
        Assert.Empty(stdout);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }
}
