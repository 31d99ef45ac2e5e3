using EdgeSelector.Cli;

namespace EdgeSelector.Cli.Tests;

/// <summary>Where the shared Open Bandit Dataset sample is, and per-test scratch directories.</summary>
internal static class TestPaths
{
    private static readonly Lazy<string> Obd = new(FindObd);

    /// <summary>The <c>random</c> folder of the OBD sample (holding <c>men/</c> and <c>women/</c>).</summary>
    public static string ObdRandom => Obd.Value;

    public static string Campaign(string name) => Path.Combine(ObdRandom, name);

    // EDGESEL_OBD_DIR wins; else shared/ beside the repository (a worktree, or CI's clone) or any ancestor.
    private static string FindObd()
    {
        var fromEnv = Environment.GetEnvironmentVariable("EDGESEL_OBD_DIR");
        if (!string.IsNullOrEmpty(fromEnv) && Directory.Exists(fromEnv))
        {
            return fromEnv;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data", "obd", "random");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        const string Fallback = "/work/shared/data/obd/random";
        return Directory.Exists(Fallback)
            ? Fallback
            : throw new DirectoryNotFoundException("OBD sample not found: set EDGESEL_OBD_DIR to shared/data/obd/random.");
    }
}

/// <summary>A directory of its own for one test, removed when the test ends.</summary>
internal sealed class ScratchDirectory : IDisposable
{
    public ScratchDirectory()
    {
        FullName = Path.Combine(Path.GetTempPath(), "edgesel-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(FullName);
    }

    public string FullName { get; }

    public string File(string name) => Path.Combine(FullName, name);

    public void Dispose() => Directory.Delete(FullName, recursive: true);
}

/// <summary>Runs <c>edgesel</c> in-process with captured output (stdout, stderr and the exit code).</summary>
internal static class CliRunner
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
