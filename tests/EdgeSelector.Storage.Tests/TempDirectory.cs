namespace EdgeSelector.Storage.Tests;

/// <summary>A fresh directory per test, deleted on dispose (FASTER's test convention).</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "edgesel-storage-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A device file still closing; the OS temp cleaner gets it.
        }
    }
}
