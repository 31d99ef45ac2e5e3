using System.Diagnostics;

namespace EdgeSelector.Testing;

/// <summary>
/// A small tmpfs of its own for disk-full tests (we run as root in CI; elsewhere mounting may not be permitted, and
/// <see cref="TryMount"/> says why so the test can report itself skipped). Unmounted and removed on dispose.
/// Used by the storage tests and the server's disk-full tests.
/// </summary>
internal sealed class Tmpfs : IDisposable
{
    private Tmpfs(string path) => Path = path;

    public string Path { get; }

    /// <summary>Mounts a tmpfs of <paramref name="megabytes"/> MB; null and the reason when that is not possible.</summary>
    public static Tmpfs? TryMount(int megabytes, out string reason)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "edgesel-tmpfs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        if (!OperatingSystem.IsLinux())
        {
            reason = "tmpfs tests need Linux";
            Directory.Delete(path);
            return null;
        }

        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", path);
        if (code != 0)
        {
            reason = $"cannot mount a tmpfs here (mount exited {code}: {output.Trim()}); run as root to test a full disk";
            Directory.Delete(path);
            return null;
        }

        reason = string.Empty;
        return new Tmpfs(path);
    }

    /// <summary>Bytes free on the tmpfs.</summary>
    public long FreeBytes => new DriveInfo(Path).AvailableFreeSpace;

    /// <summary>Writes a ballast file until at most <paramref name="leaveBytes"/> are free (or the disk is full).</summary>
    public string Fill(long leaveBytes, string name = "ballast")
    {
        var file = System.IO.Path.Combine(Path, name);
        var chunk = new byte[64 << 10];
        using var stream = new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 1, FileOptions.None);
        try
        {
            while (FreeBytes > leaveBytes + chunk.Length)
            {
                stream.Write(chunk);
            }

            var rest = FreeBytes - leaveBytes;
            if (rest > 0)
            {
                stream.Write(chunk, 0, (int)Math.Min(rest, chunk.Length));
            }
        }
        catch (IOException)
        {
            // Full already: that is what we wanted.
        }

        return file;
    }

    public void Dispose()
    {
        Run("umount", "-l", Path);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        try
        {
            var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var arg in args)
            {
                info.ArgumentList.Add(arg);
            }

            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            if (!process.WaitForExit(30_000))
            {
                process.Kill();
                return (-1, "timed out");
            }

            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
