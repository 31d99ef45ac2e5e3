namespace EdgeSelector.Testing;

/// <summary>
/// A fresh directory under the system temp directory for one test, deleted with everything in it on dispose (FASTER's
/// test convention: each test gets its own directory and removes it). <c>using var dir = new TempDirectory();</c>
/// </summary>
internal sealed class TempDirectory : IDisposable
{
    /// <param name="prefix">The start of the directory's name (the rest is a fresh GUID), to tell whose it is in /tmp.</param>
    public TempDirectory(string prefix = "edgesel-test-")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    /// <summary>The directory's full path.</summary>
    public string Path { get; }

    /// <summary>The same as <see cref="Path"/> (the name <see cref="DirectoryInfo"/> uses).</summary>
    public string FullName => Path;

    /// <summary>The path of <paramref name="name"/> inside the directory (nothing is created).</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    public override string ToString() => Path;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // The test removed it itself.
        }
        catch (IOException)
        {
            // A device file still closing, or a tmpfs still mounted below it: the OS temp cleaner gets it.
        }
        catch (UnauthorizedAccessException)
        {
            // A test made part of it read-only on purpose: the OS temp cleaner gets it.
        }
    }
}
