using Xunit;

namespace EdgeSelector.Testing;

/// <summary>
/// Runs <c>edgesel</c> in this process through <c>Program.Run</c> and captures what it prints. A test project whose
/// namespace sits under <c>EdgeSelector</c> cannot see a type named <c>Cli</c> through a global using (the namespace
/// <c>EdgeSelector.Cli</c> is found first), so such a project declares <c>internal abstract class Cli : CliCommands;</c>
/// and calls <c>Cli.Run</c>, <c>Cli.Ok</c> and <c>Cli.Workspace</c> as before.
/// </summary>
internal abstract class CliCommands
{
    /// <summary>Runs <c>edgesel <paramref name="args"/></c>: its exit code, stdout and stderr.</summary>
    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = EdgeSelector.Cli.Program.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs <c>edgesel <paramref name="args"/></c> and fails the test, with what it printed, unless it exits 0.</summary>
    public static (int Exit, string Out, string Err) Ok(params string[] args)
    {
        var result = Run(args);
        Assert.True(result.Exit == 0, $"edgesel {string.Join(' ', args)} exited {result.Exit}:\n{result.Out}\n{result.Err}");
        return result;
    }

    /// <summary>A temporary directory with the key and token files the CLI reads (never on the command line).</summary>
    public sealed class Workspace : IDisposable
    {
        private readonly TempDirectory _dir = new("es-cli-");

        public Workspace(string bundleKey = LiveServer.BundleKey, string token = LiveServer.Token)
        {
            KeyFile = _dir.File("bundle.key");
            TokenFile = _dir.File("admin.token");
            File.WriteAllText(KeyFile, bundleKey + "\n");
            File.WriteAllText(TokenFile, token + "\n");
            Models = _dir.File("models");
        }

        public string Path => _dir.Path;

        /// <summary>The signing key file (<c>--key-file</c>).</summary>
        public string KeyFile { get; }

        /// <summary>The admin token file (<c>--token-file</c>).</summary>
        public string TokenFile { get; }

        /// <summary>Where <c>edgesel bundle</c> writes models (not created).</summary>
        public string Models { get; }

        /// <summary>The path of <paramref name="name"/> in the workspace.</summary>
        public string File_(string name) => _dir.File(name);

        public void Dispose() => _dir.Dispose();
    }
}

/// <summary>Runs <c>edgesel</c> in this process: the name the CLI's own tests use (exit code as <c>Code</c>).</summary>
internal static class CliRunner
{
    /// <summary>Runs <c>edgesel <paramref name="args"/></c>: its exit code, stdout and stderr.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args) => CliCommands.Run(args);
}
