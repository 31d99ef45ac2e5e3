using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Fleet;

namespace EdgeSelector.Integration.Tests;

/// <summary>docs/operations.md explains every configuration key with the default the code has, and no key that is gone.</summary>
public sealed partial class OperationsDocTests
{
    [Fact]
    public void KeyTable_MatchesTheOptionsTypes_KeyForKeyAndDefaultForDefault()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "operations.md"));
        var documented = KeyRow().Matches(doc).ToDictionary(m => m.Groups["key"].Value, m => m.Groups["default"].Value.Trim('`'));
        var expected = KeysOf(new EdgeSelectorOptions(), string.Empty).Concat(KeysOf(new NatsOptions(), "Nats:")).Concat(KeysOf(new EdgeSelector.Server.Rollout.RolloutOptions(), "Rollout:")).ToDictionary();

        Assert.Equal(expected.Keys.Order(), documented.Keys.Order());
        foreach (var (key, value) in expected)
        {
            Assert.True(documented[key] == (value.Length == 0 ? "(empty)" : value), $"docs/operations.md gives {key} the default {documented[key]}; the code has '{value}'");
        }
    }

    [Fact]
    public void ExitCodeTable_ListsEveryExitCode()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "operations.md"));
        foreach (var field in typeof(ExitCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            Assert.Matches($@"\n\| {field.GetRawConstantValue()} \| ", doc);
        }
    }

    // | `Key` | type | `default` or (empty) | meaning |
    [GeneratedRegex(@"^\| `(?<key>[A-Za-z:]+)` \| [^|]+(?:\\\|[^|]+)* \| (?<default>`[^`]*`|\(empty\)) \|", RegexOptions.Multiline)]
    private static partial Regex KeyRow();

    private static IEnumerable<(string Key, string Default)> KeysOf(object defaults, string prefix) =>
        defaults.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && !ConfigurationKeys.IsSection(p.PropertyType))
            .Select(p => (prefix + p.Name, p.GetValue(defaults) switch
            {
                bool b => b ? "true" : "false",
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                var v => v?.ToString() ?? string.Empty,
            }));

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "EdgeSelector.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("EdgeSelector.sln not found above " + AppContext.BaseDirectory);
    }
}
