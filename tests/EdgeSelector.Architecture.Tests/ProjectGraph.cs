using System.Xml.Linq;

namespace EdgeSelector.Architecture.Tests;

/// <summary>
/// The repository's projects and what each depends on, read from the .csproj files: project references (followed
/// transitively, as MSBuild does) and package references.
/// </summary>
internal sealed class ProjectGraph
{
    private static readonly string[] ProjectFolders = ["src", "tests", "perf", "loadtest"];

    private readonly Dictionary<string, string> _paths = new(StringComparer.Ordinal);

    private ProjectGraph(string root)
    {
        Root = root;
        foreach (var folder in ProjectFolders)
        {
            var directory = Path.Combine(root, folder);
            if (!Directory.Exists(directory))
            {
                continue;
            }

            foreach (var file in Directory.EnumerateFiles(directory, "*.csproj", SearchOption.AllDirectories))
            {
                _paths[Path.GetFileNameWithoutExtension(file)] = Path.GetFullPath(file);
            }
        }
    }

    /// <summary>The repository root (the directory holding EdgeSelector.sln).</summary>
    public string Root { get; }

    /// <summary>The graph of the repository this test assembly was built from.</summary>
    public static ProjectGraph Load()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EdgeSelector.sln")))
            {
                return new ProjectGraph(dir.FullName);
            }
        }

        throw new DirectoryNotFoundException("EdgeSelector.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Whether a project of that name exists.</summary>
    public bool Contains(string project) => _paths.ContainsKey(project);

    /// <summary>
    /// Everything <paramref name="project"/> depends on, directly or through the projects it references: project names
    /// and package ids, each with the chain of references that brings it in (for the failure message).
    /// </summary>
    public Dictionary<string, string> Dependencies(string project)
    {
        var found = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var queue = new Queue<(string Path, string Chain)>();
        queue.Enqueue((_paths[project], project));
        var visited = new HashSet<string>(StringComparer.Ordinal);
        while (queue.Count > 0)
        {
            var (path, chain) = queue.Dequeue();
            if (!visited.Add(path))
            {
                continue;
            }

            var xml = XDocument.Load(path);
            foreach (var reference in xml.Descendants("ProjectReference"))
            {
                var include = (string?)reference.Attribute("Include") ?? string.Empty;
                var target = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, include.Replace('\\', '/')));
                var name = Path.GetFileNameWithoutExtension(target);
                var via = $"{chain} -> {name}";
                found.TryAdd(name, via);
                queue.Enqueue((target, via));
            }

            foreach (var reference in xml.Descendants("PackageReference"))
            {
                var id = (string?)reference.Attribute("Include") ?? string.Empty;
                found.TryAdd(id, $"{chain} -> package {id}");
            }
        }

        return found;
    }
}
