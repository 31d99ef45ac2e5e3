using System.Net;
using System.Net.Sockets;

namespace EdgeSelector.Cli.Tests;

/// <summary>
/// The fleet's command line (docs/cli.md, docs/fleet.md) without a NATS server: which options go together, and the
/// exit codes of a NATS URL that is malformed (2) or that nothing answers (1). With a server: tests/EdgeSelector.Fleet.Tests.
/// </summary>
public class FleetCommandLineTests
{
    [Theory]
    [InlineData("give one of --server or --nats.", "push --models m --server http://127.0.0.1:9 --nats nats://127.0.0.1:9")]
    [InlineData("give one of --server or --nats.", "push --models m")]
    [InlineData("give one of --server or --nats.", "rollback")]
    [InlineData("give one of --server or --nats.", "profiles import f.jsonl")]
    [InlineData("give one of --data-dir or --nats.", "train --models m")]
    [InlineData("give one of --data-dir or --nats.", "train --models m --data-dir d --nats nats://127.0.0.1:9")]
    [InlineData("--max-messages applies to --nats only.", "train --models m --data-dir d --max-messages 5")]
    [InlineData("--examples-out applies to --nats only.", "train --models m --data-dir d --examples-out x.csv")]
    [InlineData("--no-publish applies to --nats only.", "train --models m --data-dir d --no-publish")]
    [InlineData("--replace applies to --nats only.", "profiles import f.jsonl --server http://127.0.0.1:9 --replace")]
    [InlineData("--to applies to --nats only.", "rollback --server http://127.0.0.1:9 --to 3")]
    [InlineData("--token-file applies to --server only.", "rollback --nats nats://127.0.0.1:9 --token-file t")]
    [InlineData("--force applies to --server only.", "push --models m --nats nats://127.0.0.1:9 --force")]
    [InlineData("--server does not apply with --nats: with --nats a bundle that passes the gate is started as the fleet's candidate", "train --models m --nats nats://127.0.0.1:9 --gate --server http://127.0.0.1:9")]
    [InlineData("--replicas must be one of 1, 3, 5 (got '2').", "fleet init --nats nats://127.0.0.1:9 --replicas 2")]
    [InlineData("--stale-after must be positive (got '0').", "fleet status --nats nats://127.0.0.1:9 --stale-after 0")]
    [InlineData("Option '--nats' is required.", "fleet status")]
    public void FleetOptions_WrongCombinationOrValue_ExitTwo_SaysWhy(string expected, string command)
    {
        var (code, stdout, stderr) = CliRunner.Run(command.Split(' '));

        Assert.True(code == 2, $"edgesel {command}: exit {code}: {stderr}");
        Assert.Empty(stdout);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.Contains("--help' for usage.", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:4222")]
    [InlineData("127.0.0.1:4222")]
    public void Nats_NotANatsAddress_ExitTwo_NamesIt(string url)
    {
        var (code, _, stderr) = CliRunner.Run("fleet", "status", "--nats", url);

        Assert.Equal(2, code);
        Assert.Contains($"edgesel fleet status: --nats: '{url}' is not a nats://host:port address.", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Nats_NothingListens_ExitOne_NamesTheUrl_NoStackTrace()
    {
        using var dir = new TempDirectory();
        var profiles = dir.File("profiles.jsonl");
        File.WriteAllText(profiles, """{"memberId":1,"country":"US","genres":{"comedy":0.5}}""" + "\n");
        var url = $"nats://127.0.0.1:{FreePort()}";

        foreach (var args in new[]
        {
            new[] { "fleet", "status", "--nats", url },
            ["fleet", "init", "--nats", url, "--replicas", "1"],
            ["rollback", "--nats", url],
            ["profiles", "import", profiles, "--nats", url],
        })
        {
            var (code, _, stderr) = CliRunner.Run(args);
            var command = "edgesel " + string.Join(' ', args.TakeWhile(a => !a.StartsWith('-') && a != profiles));
            Assert.True(code == 1, $"{string.Join(' ', args)}: exit {code}: {stderr}");
            Assert.Contains($"{command}: cannot reach NATS at {url}", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void PushNats_NotABundle_ExitOne_NamesTheFile()
    {
        using var dir = new TempDirectory();
        var file = dir.File("not-a-bundle.esb");
        File.WriteAllText(file, "hello");

        var (code, _, stderr) = CliRunner.Run("push", "--bundle", file, "--nats", "nats://127.0.0.1:9");

        Assert.Equal(1, code);
        Assert.Contains($"edgesel push: {file}: not a model bundle (no ESB1 header)", stderr, StringComparison.Ordinal);
    }
}
