namespace EdgeSelector.Testing;

/// <summary>
/// The damage templates the store tests apply to the files of a data directory (the stores' own tests and the
/// server's start-up over a damaged directory use the same four), imported with <c>using static</c>.
/// </summary>
internal static class StoreFaults
{
    /// <summary>Every template: one bit pattern flipped in the middle, cut to half, emptied, deleted.</summary>
    public static readonly string[] Damages = ["flip", "truncate", "empty", "delete"];

    /// <summary>Damages a file; false if the damage does not apply (an empty file cannot be flipped or truncated).</summary>
    public static bool Apply(string path, string damage)
    {
        var length = new FileInfo(path).Length;
        switch (damage)
        {
            case "flip" when length > 0:
                var bytes = File.ReadAllBytes(path);
                bytes[length / 2] ^= 0x5A;
                File.WriteAllBytes(path, bytes);
                return true;
            case "truncate" when length > 1:
                using (var stream = File.OpenWrite(path))
                {
                    stream.SetLength(length / 2);
                }

                return true;
            case "empty" when length > 0:
                File.WriteAllBytes(path, []);
                return true;
            case "delete":
                File.Delete(path);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Copies every file under <paramref name="from"/> to the same relative path under <paramref name="to"/>.</summary>
    public static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
