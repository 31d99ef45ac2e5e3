using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;

namespace EdgeSelector.Cli.Tests;

/// <summary>
/// The README's command blocks, run as written (one bash script, in order) against a live node in a temporary
/// directory: the main command starts the node (free 127.0.0.1 ports substituted for 7400/7401), the queries go
/// through curl, and the learning loop through an <c>edgesel</c> on PATH. Every command is bounded in time.
/// </summary>
public class ReadmeTests
{
    private const int CommandTimeoutSeconds = 120;

    [Fact]
    public async Task Readme_CommandBlocks_RunAsWrittenAgainstItsOwnDemoNode()
    {
        if (OperatingSystem.IsWindows() || !File.Exists("/bin/bash") || !OnPath("curl"))
        {
            return; // The README's blocks are sh with curl: Linux and macOS.
        }

        var root = CommandLineTests.RepositoryRoot();
        var lines = CommandLines(File.ReadAllText(Path.Combine(root, "README.md")));
        using var dir = new TempDirectory();
        CopyDirectory(Path.Combine(root, "samples"), Path.Combine(dir.FullName, "samples"));
        var (binaryPort, adminPort) = (FreePort(), FreePort());

        // The lines that set up the node and the tool run differently here; everything else runs as written.
        var server = lines.Single(l => l.StartsWith("dotnet run -c Release --project src/EdgeSelector.Server -- ", StringComparison.Ordinal));
        Assert.Contains("--EdgeSelector:BundleKey=", server, StringComparison.Ordinal);
        var install = lines.Where(l => l.StartsWith("dotnet pack src/EdgeSelector.Cli", StringComparison.Ordinal) || l.StartsWith("dotnet tool install", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, install.Count);
        var csproj = XDocument.Load(Path.Combine(root, "src", "EdgeSelector.Cli", "EdgeSelector.Cli.csproj"));
        Assert.Contains($" {csproj.Descendants("PackageId").Single().Value} ", install[1] + " ", StringComparison.Ordinal);
        Assert.Equal("edgesel", csproj.Descendants("ToolCommandName").Single().Value);

        var script = new StringBuilder("set -o pipefail\n");
        foreach (var line in lines)
        {
            if (line == server || install.Contains(line) || line.StartsWith("dotnet test ", StringComparison.Ordinal)
                || line.StartsWith("dotnet publish ", StringComparison.Ordinal) || line.StartsWith("./out/server/", StringComparison.Ordinal)
                || line.StartsWith("export PATH=", StringComparison.Ordinal))
            {
                continue; // The node is started below, the tool is the build's, the test and the AOT binary have tests of their own.
            }

            var command = line.Replace("localhost:7401", $"127.0.0.1:{adminPort}", StringComparison.Ordinal)
                .Replace("localhost:7400", $"127.0.0.1:{binaryPort}", StringComparison.Ordinal);
            var quoted = command.Replace("'", "'\\''", StringComparison.Ordinal);
            script.Append(CultureInvariant($"echo '+ {quoted}' >&2\n"));
            script.Append(CultureInvariant($"timeout {CommandTimeoutSeconds} bash -c '{quoted}' || {{ echo \"README command failed ($?): {quoted.Replace("\"", "\\\"", StringComparison.Ordinal)}\" >&2; exit 1; }}\n"));
            if (command.StartsWith("export ", StringComparison.Ordinal))
            {
                script.Append(command).Append('\n');
            }
        }

        var bin = Directory.CreateDirectory(Path.Combine(dir.FullName, "bin")).FullName;
        var shim = Path.Combine(bin, "edgesel");
        File.WriteAllText(shim, $"#!/bin/sh\nexec dotnet '{BuildOutput(root, "EdgeSelector.Cli", "edgesel.dll")}' \"$@\"\n");
        File.SetUnixFileMode(shim, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllText(Path.Combine(dir.FullName, "readme.sh"), script.ToString());

        var nodeArgs = server["dotnet run -c Release --project src/EdgeSelector.Server -- ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        using var node = Start("dotnet", dir.FullName, null,
            [BuildOutput(root, "EdgeSelector.Server", "edgeselector.dll"), .. nodeArgs,
             $"--EdgeSelector:BinaryPort={binaryPort}", $"--EdgeSelector:AdminPort={adminPort}"]);
        var nodeLog = new StringBuilder();
        node.OutputDataReceived += (_, e) => { lock (nodeLog) { nodeLog.AppendLine(e.Data); } };
        node.ErrorDataReceived += (_, e) => { lock (nodeLog) { nodeLog.AppendLine(e.Data); } };
        node.BeginOutputReadLine();
        node.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}"), Timeout = TimeSpan.FromSeconds(10) };
            await WaitUntilReady(http, node, nodeLog);

            using var bash = Start("/bin/bash", dir.FullName, bin, [Path.Combine(dir.FullName, "readme.sh")]);
            var stdout = bash.StandardOutput.ReadToEndAsync();
            var stderr = bash.StandardError.ReadToEndAsync();
            if (!bash.WaitForExit(TimeSpan.FromMinutes(10)))
            {
                bash.Kill(entireProcessTree: true);
            }

            var output = await stdout + await stderr;
            Assert.True(bash.HasExited && bash.ExitCode == 0, $"README script failed:\n{output}\nnode:\n{nodeLog}");

            // What the blocks claim happened, checked on the node: the loop ran, then rolled back to the catalog's bundle.
            Assert.Contains("\"results\":[", output, StringComparison.Ordinal);
            Assert.Contains("500 profiles stored", output, StringComparison.Ordinal);
            Assert.Contains("rolled back", output, StringComparison.Ordinal);
            var bundles = Directory.GetFiles(Path.Combine(dir.FullName, "models"), "bundle-*.esb").Where(f => !f.EndsWith(".f32.esb", StringComparison.Ordinal)).Order().ToList();
            Assert.Equal(2, bundles.Count);
            using var response = await http.SendAsync(Authorized(HttpMethod.Get, "/v1/models"));
            using var models = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var active = models.RootElement.GetProperty("activeVersion").GetUInt64();
            Assert.Equal(Path.GetFileNameWithoutExtension(bundles[0])["bundle-".Length..], active.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            if (!node.HasExited)
            {
                node.Kill(entireProcessTree: true);
                node.WaitForExit(30_000);
            }
        }
    }

    /// <summary>The commands of the README's <c>sh</c> blocks, in order: comments dropped, continuation lines joined.</summary>
    internal static List<string> CommandLines(string readme)
    {
        var commands = new List<string>();
        var inBlock = false;
        var pending = string.Empty;
        foreach (var raw in readme.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inBlock = !inBlock && line == "```sh";
                continue;
            }

            if (!inBlock || line.TrimStart().StartsWith('#') || line.Trim().Length == 0)
            {
                continue;
            }

            pending += line.Trim();
            if (pending.EndsWith('\\'))
            {
                pending = pending[..^1] + " ";
                continue;
            }

            commands.Add(pending);
            pending = string.Empty;
        }

        return commands;
    }

    private static HttpRequestMessage Authorized(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "dev-token");
        return request;
    }

    private static Task WaitUntilReady(HttpClient http, Process node, StringBuilder log) =>
        ServerLauncher.WaitReadyAsync(http, node, () => log.ToString());

    private static Process Start(string file, string workingDirectory, string? pathPrefix, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // The README's own exports set these; a developer's environment must not leak in.
        start.Environment.Remove("EDGESEL_BUNDLE_KEY");
        start.Environment.Remove("EDGESEL_ADMIN_TOKEN");
        if (pathPrefix is not null)
        {
            start.Environment["PATH"] = pathPrefix + Path.PathSeparator + start.Environment["PATH"];
        }

        return Process.Start(start)!;
    }

    // The project's build output for the configuration these tests were built in (bin/<Configuration>/net10.0).
    private static string BuildOutput(string root, string project, string file)
    {
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var path = Path.Combine(root, "src", project, "bin", framework.Parent!.Name, framework.Name, file);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path}: build {project} first (the test project references it).");
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator).Any(d => File.Exists(Path.Combine(d, tool)));

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }


    private static string CultureInvariant(FormattableString text) => text.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
