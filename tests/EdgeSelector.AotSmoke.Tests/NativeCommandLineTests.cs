using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EdgeSelector.AotSmoke.Tests;

/// <summary>
/// The native binary's command line (docs/operations.md): --help and --version work, and configuration mistakes are
/// one line with their exit code, under native AOT too (the key list is read from the options types by reflection
/// that the trimmer must keep; the binder is source-generated).
/// </summary>
public sealed class NativeCommandLineTests
{
    [Fact]
    public async Task Help_ListsKeysWithDefaults()
    {
        var (code, stdout, _) = await Run("--help");
        Assert.Equal(0, code);
        Assert.Matches(@"--EdgeSelector:BinaryPort\s+integer\s+7400", stdout);
        Assert.Matches(@"--EdgeSelector:Nats:ShipBatchKB\s+integer\s+256", stdout);
        Assert.Matches(@"--EdgeSelector:Policy\s+Greedy\|EpsilonGreedy\|Softmax\|Thompson\|Ucb\|Uniform\s+EpsilonGreedy", stdout);
    }

    [Fact]
    public async Task Version_PrintsOneLine()
    {
        var (code, stdout, _) = await Run("--version");
        Assert.Equal(0, code);
        Assert.StartsWith("edgeselector ", stdout);
    }

    [Theory]
    [InlineData(2, "did you mean EdgeSelector:Demo?", "--EdgeSelector:Dmeo=true")]
    [InlineData(2, "EdgeSelector:Policy = 'Foo'", "--EdgeSelector:Policy=Foo")]
    [InlineData(2, "EdgeSelector:AdminPort = 'abc'", "--EdgeSelector:AdminPort=abc")]
    public async Task ConfigurationMistake_IsOneLine_WithItsExitCode(int exitCode, string message, string arg)
    {
        var (code, _, stderr) = await Run($"--EdgeSelector:DataDir={Path.Combine(Path.GetTempPath(), "es-aot-cmd-" + Guid.NewGuid().ToString("N"))}", arg);
        Assert.Equal(exitCode, code);
        Assert.Contains(message, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task PortInUse_ExitsWith5()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var (code, _, stderr) = await Run($"--EdgeSelector:DataDir={Path.Combine(Path.GetTempPath(), "es-aot-cmd-" + Guid.NewGuid().ToString("N"))}", $"--EdgeSelector:BinaryPort={port}");
        Assert.Equal(5, code);
        Assert.Contains($"127.0.0.1:{port} (EdgeSelector:BinaryPort) is already in use", stderr);
    }

    private static async Task<(int Code, string Stdout, string Stderr)> Run(params string[] args)
    {
        var binary = Environment.GetEnvironmentVariable("EDGESELECTOR_BINARY");
        Assert.False(string.IsNullOrEmpty(binary), "set EDGESELECTOR_BINARY to the published edgeselector binary (.ci/run does)");
        var start = new ProcessStartInfo(binary!) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
