using System.CommandLine;
using EdgeSelector.Cli.Commands;
using EdgeSelector.Cli.Infrastructure;

namespace EdgeSelector.Cli.Tests;

/// <summary>The command line every edgesel command shares: help, version, suggestions, completions and exit codes (docs/cli.md).</summary>
public class CommandLineTests
{
    /// <summary>Every command and subcommand of the tree, as the words typed after <c>edgesel</c>.</summary>
    public static TheoryData<string> AllCommands()
    {
        var data = new TheoryData<string>();
        foreach (var path in CommandPaths(leavesOnly: false))
        {
            data.Add(path);
        }

        return data;
    }

    /// <summary>The commands of the tree (the root as ""); with <paramref name="leavesOnly"/>, only those that run something (not a parent like <c>profiles</c>).</summary>
    internal static List<string> CommandPaths(bool leavesOnly)
    {
        var paths = new List<string>();
        void Walk(Command command, string path)
        {
            if (!leavesOnly || command.Subcommands.Count == 0)
            {
                paths.Add(path);
            }

            foreach (var sub in command.Subcommands)
            {
                Walk(sub, (path + " " + sub.Name).Trim());
            }
        }

        Walk(Edgesel.Create(), string.Empty);
        return paths;
    }

    [Theory]
    [MemberData(nameof(AllCommands))]
    public void Help_EveryCommand_ExitsZeroAndDescribesItsOptions(string path)
    {
        string[] words = [.. path.Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        foreach (var help in new[] { "--help", "-h" })
        {
            var (code, stdout, stderr) = CliRunner.Run([.. words, help]);

            Assert.True(code == 0, $"edgesel {path} {help}: exit {code}: {stderr}");
            Assert.Contains("Usage:", stdout, StringComparison.Ordinal);
            Assert.Contains($"edgesel {path}".Trim(), stdout, StringComparison.Ordinal);
            Assert.Empty(stderr);
        }
    }

    [Fact]
    public void Help_CommandTree_HasEveryDocumentedCommand()
    {
        var names = Edgesel.Create().Subcommands.Select(c => c.Name).ToList();
        Assert.Equal(["bundle", "push", "rollback", "profiles", "train", "evaluate", "simulate", "learning-curve", "report", "fleet", "rollout", "completion"], names);
        // docs/cli.md has a section for each command that does something (a parent's subcommands each have one).
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "cli.md"));
        var leaves = CommandPaths(leavesOnly: true);
        Assert.Contains("fleet status", leaves);
        Assert.Contains("profiles import", leaves);
        Assert.All(leaves, n => Assert.Contains($"## `edgesel {n}`", doc, StringComparison.Ordinal));
    }

    [Fact]
    public void Version_PrintsTheAssemblyVersion()
    {
        var (code, stdout, _) = CliRunner.Run("--version");

        Assert.Equal(0, code);
        var expected = typeof(Program).Assembly.GetName().Version!;
        Assert.StartsWith($"{expected.Major}.{expected.Minor}.{expected.Build}", stdout.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public void NoCommand_ListsTheCommandsOnStderr_ExitTwo()
    {
        var (code, stdout, stderr) = CliRunner.Run();

        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains("learning-curve", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--modles", "train", "--models")]
    [InlineData("--data-dri", "train", "--data-dir")]
    [InlineData("--token-flie", "push", "--token-file")]
    [InlineData("--catalgo", "bundle", "--catalog")]
    [InlineData("--imressions", "report", "--impressions")]
    public void UnknownOption_ExitTwo_SuggestsTheClosestOption(string typo, string command, string meant)
    {
        var (code, stdout, stderr) = CliRunner.Run(command, typo, "x");

        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains($"edgesel {command}: unknown option '{typo}'. Did you mean '{meant}'?", stderr, StringComparison.Ordinal);
        Assert.Contains($"Run 'edgesel {command} --help' for usage.", stderr, StringComparison.Ordinal);
        // The unknown option's value is not reported as a second problem.
        Assert.DoesNotContain("'x'", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("trian", "train")]
    [InlineData("evalute", "evaluate")]
    [InlineData("rollbak", "rollback")]
    public void UnknownCommand_ExitTwo_SuggestsTheClosestCommand(string typo, string meant)
    {
        var (code, _, stderr) = CliRunner.Run(typo);

        Assert.Equal(2, code);
        Assert.Contains($"edgesel: unknown command '{typo}'. Did you mean '{meant}'?", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownOption_NothingClose_NoSuggestion()
    {
        var (code, _, stderr) = CliRunner.Run("rollback", "--zzzzzzzz");

        Assert.Equal(2, code);
        Assert.Contains("unknown option '--zzzzzzzz'.", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Did you mean", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--seed", "-3", "simulate")]
    [InlineData("--seed", "abc", "simulate")]
    [InlineData("--batch", "0", "profiles import f.jsonl --server http://127.0.0.1:9")]
    [InlineData("--window-hours", "0", "train --data-dir d --models m")]
    [InlineData("--forget-half-life", "-1", "train --data-dir d --models m")]
    [InlineData("--forget-half-life", "NaN", "train --data-dir d --models m")]
    [InlineData("--min-minutes", "ten", "train --data-dir d --models m")]
    [InlineData("--min-fraction", "-0.5", "report")]
    public void InvalidValue_ExitTwo_NamesTheOption(string option, string value, string command)
    {
        var (code, _, stderr) = CliRunner.Run([.. command.Split(' '), option, value]);

        Assert.Equal(2, code);
        Assert.Contains(option, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void LearningCurve_UnknownScenario_ExitTwo_ListsTheScenarios()
    {
        var (code, _, stderr) = CliRunner.Run("learning-curve", "--scenario", "weather");

        Assert.Equal(2, code);
        Assert.Contains("'weather' not recognized", stderr, StringComparison.Ordinal);
        foreach (var scenario in new[] { "stationary", "drift", "pages", "embeddings", "interaction" })
        {
            Assert.Contains(scenario, stderr, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--max", "100000")]
    [InlineData("--seed", "3")]
    [InlineData("--chart", "curve.png")]
    public void LearningCurve_SectionEightScenario_RefusesTheStationaryCurvesOptions(string option, string value)
    {
        // Refused before any run starts: the tables of section 8 have their own seeded sizes.
        var (code, stdout, stderr) = CliRunner.Run("learning-curve", "--scenario", "pages", option, value);

        Assert.Equal(2, code);
        Assert.Contains($"{option} applies to --scenario stationary only", stderr, StringComparison.Ordinal);
        Assert.Empty(stdout);
    }

    [Fact]
    public void MissingFiles_ExitOne_WithAMessageNamingTheFile()
    {
        using var dir = new TempDirectory();
        var missing = dir.File("missing");
        var key = dir.File("bundle.key");
        File.WriteAllText(key, "k");
        var catalog = dir.File("catalog.json");
        File.WriteAllText(catalog, """{"version":1,"titles":[]}""");
        var server = "http://127.0.0.1:9";

        (string Expected, string[] Args)[] cases =
        [
            ($"{missing}: file not found (--token-file, the admin token).", ["push", "--bundle", catalog, "--server", server, "--token-file", missing]),
            ($"{missing}: file not found (--token-file, the admin token).", ["rollback", "--server", server, "--token-file", missing]),
            ($"{missing}: file not found (--key-file, the bundle key).", ["bundle", "--catalog", catalog, "--models", dir.File("m"), "--key-file", missing]),
            ($"{missing}: file not found (--catalog).", ["bundle", "--catalog", missing, "--models", dir.File("m"), "--key-file", key]),
            ($"{missing}: file not found (--bundle).", ["push", "--bundle", missing, "--server", server, "--token-file", key]),
            ($"{missing}: directory not found (--models).", ["push", "--models", missing, "--server", server, "--token-file", key]),
            ($"{missing}: file not found (the profiles to import).", ["profiles", "import", missing, "--server", server, "--token-file", key]),
            ($"{missing}: directory not found (--data-dir, the node's DataDir).", ["train", "--data-dir", missing, "--models", dir.File("m"), "--key-file", key]),
            ($"{missing}: file not found (--scenario).", ["simulate", "--scenario", missing]),
        ];
        foreach (var (expected, args) in cases)
        {
            var (code, _, stderr) = CliRunner.Run(args);
            Assert.True(code == 1, $"exit {code} for {string.Join(' ', args)}: {stderr}");
            Assert.Contains(expected, stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Secrets_NeitherFileNorEnvironment_ExitTwoNamingBoth()
    {
        if (Environment.GetEnvironmentVariable(Secrets.TokenEnvironment) is { Length: > 0 })
        {
            return; // The test needs the variable unset: it is never set in CI.
        }

        var (code, _, stderr) = CliRunner.Run("rollback", "--server", "http://127.0.0.1:9");

        Assert.Equal(2, code);
        Assert.Contains("give --token-file FILE or set EDGESEL_ADMIN_TOKEN", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void UnreachableServer_ExitOne_NoStackTrace()
    {
        using var dir = new TempDirectory();
        var token = dir.File("admin.token");
        File.WriteAllText(token, "t");

        var (code, _, stderr) = CliRunner.Run("rollback", "--server", "http://127.0.0.1:9", "--token-file", token);

        Assert.Equal(1, code);
        Assert.Contains("http://127.0.0.1:9/: unreachable", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void DamagedInput_ExitOne_WithTheReadersMessage()
    {
        using var dir = new TempDirectory();
        var key = dir.File("bundle.key");
        File.WriteAllText(key, "k");
        var catalog = dir.File("catalog.json");
        File.WriteAllText(catalog, "{ this is not json");

        var (code, _, stderr) = CliRunner.Run("bundle", "--catalog", catalog, "--models", dir.File("m"), "--key-file", key);

        Assert.Equal(1, code);
        Assert.StartsWith("edgesel bundle: ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("edgesel tr", "train")]
    [InlineData("edgesel pro", "profiles")]
    [InlineData("edgesel push --for", "--force")]
    [InlineData("edgesel evaluate --format i", "impressions")]
    [InlineData("edgesel profiles i", "import")]
    public void SuggestDirective_CompletesCommandsOptionsAndValues(string line, string expected)
    {
        var (code, stdout, _) = CliRunner.Run($"[suggest:{line.Length}]", line);

        Assert.Equal(0, code);
        var suggestions = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(expected, suggestions[0]);
        Assert.True(suggestions.Length <= 2, string.Join(", ", suggestions));
    }

    [Theory]
    [InlineData("bash", "complete -o default -F _edgesel_complete edgesel")]
    [InlineData("zsh", "compdef _edgesel_complete edgesel")]
    [InlineData("fish", "complete -c edgesel")]
    [InlineData("pwsh", "Register-ArgumentCompleter -Native -CommandName edgesel")]
    public void Completion_EachShell_PrintsAScriptUsingTheSuggestDirective(string shell, string registration)
    {
        var (code, stdout, _) = CliRunner.Run("completion", shell);

        Assert.Equal(0, code);
        Assert.Contains(registration, stdout, StringComparison.Ordinal);
        Assert.Contains("[suggest:", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Completion_BashScript_CompletesInARealShell()
    {
        if (OperatingSystem.IsWindows() || !File.Exists("/bin/bash"))
        {
            return; // Windows: the pwsh script is the one that applies there.
        }

        using var dir = new TempDirectory();
        var script = dir.File("edgesel.bash");
        File.WriteAllText(script, CompletionCommand.Script("bash"));
        // A stand-in `edgesel` on PATH that answers the directive as the real one does (the test cannot assume an
        // installed tool): the script must pass the line and the cursor position through unchanged.
        var shim = dir.File("edgesel");
        File.WriteAllText(shim, "#!/bin/sh\n[ \"$1\" = \"[suggest:11]\" ] && [ \"$2\" = \"edgesel pro\" ] && echo profiles\n");
        File.SetUnixFileMode(shim, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var start = new System.Diagnostics.ProcessStartInfo("/bin/bash")
        {
            ArgumentList = { "-c", $"PATH='{dir.FullName}':$PATH; source '{script}'; COMP_LINE='edgesel pro'; COMP_POINT=11; _edgesel_complete; echo \"${{COMPREPLY[@]}}\"" },
            RedirectStandardOutput = true,
        };
        using var bash = System.Diagnostics.Process.Start(start)!;
        var output = bash.StandardOutput.ReadToEnd();
        Assert.True(bash.WaitForExit(30_000));
        Assert.Equal("profiles", output.Trim());
    }

    [Fact]
    public void ExitCodes_AreTheDocumentedOnes() => Assert.Equal((0, 1, 2), (ExitCodes.Ok, ExitCodes.Failed, ExitCodes.Usage));

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EdgeSelector.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("EdgeSelector.sln not found above " + AppContext.BaseDirectory);
    }
}
