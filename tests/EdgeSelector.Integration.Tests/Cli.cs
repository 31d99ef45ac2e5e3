namespace EdgeSelector.Integration.Tests;

/// <summary>Runs <c>edgesel</c> in this process and captures what it prints.</summary>
internal static class Cli
{
    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = EdgeSelector.Cli.Program.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A directory with the key and token files the CLI reads (never on the command line).</summary>
    public sealed class Workspace : IDisposable
    {
        public Workspace(string bundleKey = LiveServer.BundleKey, string token = LiveServer.Token)
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "es-cli-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path);
            KeyFile = System.IO.Path.Combine(Path, "bundle.key");
            TokenFile = System.IO.Path.Combine(Path, "admin.token");
            File.WriteAllText(KeyFile, bundleKey + "\n");
            File.WriteAllText(TokenFile, token + "\n");
            Models = System.IO.Path.Combine(Path, "models");
        }

        public string Path { get; }

        public string KeyFile { get; }

        public string TokenFile { get; }

        public string Models { get; }

        public string File_(string name) => System.IO.Path.Combine(Path, name);

        public void Dispose()
        {
            if (Directory.Exists(Path))
            {
                Directory.Delete(Path, recursive: true);
            }
        }
    }
}
