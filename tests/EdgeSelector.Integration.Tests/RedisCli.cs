using System.Diagnostics;
using System.Globalization;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// Runs Debian's <c>redis-cli</c> (package redis-tools, installed by .ci/run) against a node's RESP port on loopback,
/// bounded by a timeout. A missing redis-cli fails the test with how to install it: CI installs it, so a silent pass
/// would hide a front door nobody tested with the real client.
/// </summary>
internal static class RedisCli
{
    private static readonly string[] Candidates = ["/usr/bin/redis-cli", "/usr/local/bin/redis-cli"];

    /// <summary>The redis-cli path; fails the test when it is not installed.</summary>
    public static string Path =>
        Candidates.FirstOrDefault(File.Exists)
        ?? throw new Xunit.Sdk.XunitException(
            "redis-cli is not installed: the RESP front door is tested with it (docs/resp.md). Install Debian's redis-tools " +
            "(sudo apt-get install -y redis-tools); .ci/run installs it.");

    /// <summary>Runs <c>redis-cli -p port args...</c> (stdin from <paramref name="input"/>) and returns exit code and stdout.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(int port, string? input, params string[] args)
    {
        var psi = new ProcessStartInfo(Path, ["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), .. args])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }

        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new Xunit.Sdk.XunitException($"redis-cli {string.Join(' ', args)} did not finish within 60 s");
        }

        return (process.ExitCode, await output, await error);
    }
}
