using System.Globalization;

namespace EdgeSelector.Storage.Health;

/// <summary>Moves a damaged store directory aside (a rename: no copy, nothing deleted) so a fresh one can start.</summary>
public static class Quarantine
{
    /// <summary>Renames <paramref name="directory"/> to <c>directory.damaged-yyyyMMddTHHmmssZ</c> and returns the new path.</summary>
    public static string MoveAside(string directory)
    {
        var stamp = DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var target = $"{directory.TrimEnd(Path.DirectorySeparatorChar)}.damaged-{stamp}";
        for (var n = 2; Directory.Exists(target) || File.Exists(target); n++)
        {
            target = $"{directory.TrimEnd(Path.DirectorySeparatorChar)}.damaged-{stamp}-{n}";
        }

        Directory.Move(directory, target);
        return target;
    }
}
