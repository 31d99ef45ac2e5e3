using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Fleet;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// The server's command line as an operator meets it (docs/operations.md): the real entry point in a child process,
/// its exit code and its stdout/stderr. A configuration or resource mistake is one line on stderr naming the key or
/// resource, with the documented exit code, and never a stack trace.
/// </summary>
public sealed class ServerCommandLineTests
{
    [Fact]
    public async Task Help_ListsEveryKeyOfTheOptionsTypes_WithItsDefault()
    {
        var result = await ServerCommand.RunAsync(["--help"]);

        Assert.Equal(0, result.ExitCode);
        var lines = result.Stdout.Split('\n');
        // The keys are read here from the options types by this test's own reflection, not from the server's list.
        var expected = KeysOf(new EdgeSelectorOptions(), EdgeSelectorOptions.Section).Concat(KeysOf(new NatsOptions(), NatsOptions.Section)).Concat(KeysOf(new EdgeSelector.Server.Rollout.RolloutOptions(), EdgeSelector.Server.Rollout.RolloutOptions.Section)).ToList();
        Assert.True(expected.Count > 40, $"only {expected.Count} keys found");
        foreach (var (path, value) in expected)
        {
            var line = lines.SingleOrDefault(l => l.TrimStart().StartsWith($"--{path} ", StringComparison.Ordinal));
            Assert.True(line is not null, $"--help does not list {path}:\n{result.Stdout}");
            Assert.Equal(value.Length == 0 ? "(empty)" : value, line!.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]);
        }

        Assert.Contains("--EdgeSelector:BinaryPort", result.Stdout);
        Assert.Matches(@"--EdgeSelector:Policy\s+Greedy\|EpsilonGreedy\|Softmax\|Thompson\|Ucb\|Uniform\s+EpsilonGreedy", result.Stdout);
        Assert.Contains("Exit codes:", result.Stdout);
        Assert.Empty(result.Stderr);
    }

    [Fact]
    public async Task Version_PrintsTheVersionAndExits()
    {
        var result = await ServerCommand.RunAsync(["--version"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^edgeselector \d+\.\d+\.\d+\S* \(\.NET 10\.", result.Stdout);
        Assert.Single(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("--EdgeSelector:Dmeo=true", "unknown key EdgeSelector:Dmeo (command line); did you mean EdgeSelector:Demo?")]
    [InlineData("--EdgeSelector:adminprot=7000", "did you mean EdgeSelector:AdminPort?")]
    [InlineData("--EdgeSelector:Nats:Ulr=nats://127.0.0.1:4222", "did you mean EdgeSelector:Nats:Url?")]
    [InlineData("--EdgeSelector:CompletelyDifferent=1", "unknown key EdgeSelector:CompletelyDifferent (command line); edgeselector --help lists every key")]
    [InlineData("--Demo=true", "unknown argument '--Demo=true': did you mean --EdgeSelector:Demo?")]
    [InlineData("--EdgeSelectr:Demo=true", "did you mean --EdgeSelector:Demo?")]
    [InlineData("serve", "unexpected argument 'serve'")]
    [InlineData("-x", "unexpected argument '-x'")]
    [InlineData("--EdgeSelector:Demo", "--EdgeSelector:Demo has no value")]
    public async Task UnknownOrMalformedArgument_ExitsWithCode2_NamingTheSuggestion(string arg, string message)
    {
        var dataDir = TempPath();
        var result = await ServerCommand.RunAsync([$"--EdgeSelector:DataDir={dataDir}", arg]);

        AssertOneLineError(result, ExitCodes.Configuration, message);
        Assert.False(Directory.Exists(dataDir), "a refused configuration must not create the data directory");
    }

    [Fact]
    public async Task UnknownKey_FromTheEnvironment_IsRefusedNamingTheVariable()
    {
        var result = await ServerCommand.RunAsync([$"--EdgeSelector:DataDir={TempPath()}"], new Dictionary<string, string> { ["EdgeSelector__BundelKey"] = "secret-value" });

        AssertOneLineError(result, ExitCodes.Configuration, "unknown key EdgeSelector:BundelKey (environment variable EdgeSelector__BundelKey); did you mean EdgeSelector:BundleKey?");
        Assert.DoesNotContain("secret-value", result.Stderr);
    }

    [Fact]
    public async Task UnknownKeyAndBadValue_FromAppsettings_AreRefusedNamingTheFile()
    {
        var dir = TempPath();
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "appsettings.json"), """{"EdgeSelector":{"DataDir":"./d","BindAdress":"0.0.0.0"}}""");
            var unknown = await ServerCommand.RunAsync([], workingDirectory: dir);
            AssertOneLineError(unknown, ExitCodes.Configuration, "unknown key EdgeSelector:BindAdress (appsettings.json); did you mean EdgeSelector:BindAddress?");

            File.WriteAllText(Path.Combine(dir, "appsettings.json"), """{"EdgeSelector":{"DataDir":"./d","MaxConnections":"lots"}}""");
            var bad = await ServerCommand.RunAsync([], workingDirectory: dir);
            AssertOneLineError(bad, ExitCodes.Configuration, "EdgeSelector:MaxConnections = 'lots' (appsettings.json) is not a valid value; expected integer");
            Assert.False(Directory.Exists(Path.Combine(dir, "d")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("--EdgeSelector:Policy=Foo", "EdgeSelector:Policy = 'Foo' (command line) is not a valid value; expected Greedy|EpsilonGreedy|Softmax|Thompson|Ucb|Uniform")]
    [InlineData("--EdgeSelector:Policy=7", "EdgeSelector:Policy = '7'")]
    [InlineData("--EdgeSelector:AdminPort=abc", "EdgeSelector:AdminPort = 'abc' (command line) is not a valid value; expected integer")]
    [InlineData("--EdgeSelector:AdminPort=70000", "EdgeSelector:AdminPort must be a TCP port")]
    [InlineData("--EdgeSelector:NodeId=4096", "EdgeSelector:NodeId must be in 0..4095")]
    [InlineData("--EdgeSelector:MaxFrameBytes=100", "EdgeSelector:MaxFrameBytes must be in 256..16777216")]
    [InlineData("--EdgeSelector:MinThreadPoolThreads=-1", "EdgeSelector:MinThreadPoolThreads must be in 0..1024")]
    [InlineData("--EdgeSelector:MaxFrameBytes=20000000", "EdgeSelector:MaxFrameBytes must be in 256..16777216")]
    [InlineData("--EdgeSelector:ProfileMemoryMB=8", "profiles at least 16 MB: four 4 MB pages")]
    [InlineData("--EdgeSelector:Demo=yes", "EdgeSelector:Demo = 'yes' (command line) is not a valid value; expected true|false")]
    [InlineData("--EdgeSelector:DeadlineMs=NaN", "EdgeSelector:DeadlineMs = 'NaN'")]
    [InlineData("--EdgeSelector:Seed=-1", "EdgeSelector:Seed = '-1' (command line) is not a valid value; expected unsigned integer")]
    [InlineData("--EdgeSelector:BindAddress=localhost:80", "EdgeSelector:BindAddress must be an IP address")]
    [InlineData("--EdgeSelector:Nats:Url=http://127.0.0.1:4222", "EdgeSelector:Nats:Url has 'http://127.0.0.1:4222', not a nats://host:port address")]
    [InlineData("--EdgeSelector:Nats:TokenFile=/nonexistent/nats.token", "EdgeSelector:Nats:TokenFile names /nonexistent/nats.token, which does not exist")]
    [InlineData("--EdgeSelector:Nats:User=edge", "EdgeSelector:Nats:PasswordFile is needed with User")]
    [InlineData("--EdgeSelector:Nats:TlsKeyFile=/etc/hostname", "EdgeSelector:Nats:TlsCertFile is needed with TlsKeyFile")]
    public async Task InvalidValue_ExitsWithCode2_NamingTheKey(string arg, string message)
    {
        var dataDir = TempPath();
        var result = await ServerCommand.RunAsync([$"--EdgeSelector:DataDir={dataDir}", arg]);

        AssertOneLineError(result, ExitCodes.Configuration, message);
        Assert.False(Directory.Exists(dataDir));
    }

    [Theory]
    [InlineData("BinaryPort")]
    [InlineData("AdminPort")]
    public async Task PortInUse_ExitsWithCode5_NamingThePortAndKey(string key)
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var dataDir = TempPath();
        var (binary, admin) = key == "BinaryPort" ? (port, FreePort()) : (FreePort(), port);

        var result = await ServerCommand.RunAsync([$"--EdgeSelector:DataDir={dataDir}", $"--EdgeSelector:BinaryPort={binary}", $"--EdgeSelector:AdminPort={admin}"]);

        AssertOneLineError(result, ExitCodes.Listen, $"cannot listen: 127.0.0.1:{port} (EdgeSelector:{key}) is already in use");
        if (Directory.Exists(dataDir))
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task UnwritableDataDir_ExitsWithCode3_NamingTheDirectory()
    {
        // A directory under a regular file can never be created, whoever runs the test (root ignores permissions).
        var file = TempPath();
        File.WriteAllText(file, "not a directory");
        try
        {
            var result = await ServerCommand.RunAsync([$"--EdgeSelector:DataDir={file}/data", $"--EdgeSelector:BinaryPort={FreePort()}", $"--EdgeSelector:AdminPort={FreePort()}"]);

            AssertOneLineError(result, ExitCodes.StartRefused, $"cannot start: data directory {file}/data (EdgeSelector:DataDir) is not writable");
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static void AssertOneLineError(ServerCommand.Result result, int exitCode, string message)
    {
        Assert.True(exitCode == result.ExitCode, $"exit code {result.ExitCode}, expected {exitCode}\nstdout:\n{result.Stdout}\nstderr:\n{result.Stderr}");
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("edgeselector: ", line);
        Assert.Contains(message, line);
        Assert.DoesNotContain("   at ", result.Stdout + result.Stderr); // no stack trace anywhere
    }

    private static IEnumerable<(string Path, string Default)> KeysOf(object defaults, string section) =>
        defaults.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && !ConfigurationKeys.IsSection(p.PropertyType))
            .Select(p => ($"{section}:{p.Name}", p.GetValue(defaults) switch
            {
                bool b => b ? "true" : "false",
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                var v => v?.ToString() ?? string.Empty,
            }));

    private static string TempPath() => Path.Combine(Path.GetTempPath(), "es-cmd-" + Guid.NewGuid().ToString("N"));
}
