namespace EdgeSelector.Testing;

/// <summary>Where the shared Open Bandit Dataset sample is (read by the CLI's and the learning library's tests).</summary>
internal static class TestPaths
{
    private static readonly Lazy<string> Obd = new(FindObd);

    /// <summary>The <c>random</c> folder of the OBD sample (holding <c>men/</c> and <c>women/</c>).</summary>
    public static string ObdRandom => Obd.Value;

    /// <summary>One campaign's folder of the sample (<c>men</c> or <c>women</c>).</summary>
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
