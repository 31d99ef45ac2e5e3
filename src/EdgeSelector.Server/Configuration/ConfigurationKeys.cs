using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using EdgeSelector.Server.Fleet;

namespace EdgeSelector.Server.Configuration;

/// <summary>One configuration key the server reads: its full path, the property that holds it and its default.</summary>
internal sealed record ConfigurationKey(string Path, PropertyInfo Property, string Default)
{
    /// <summary>The key's name without its section (<c>BinaryPort</c>, <c>Nats:Url</c>).</summary>
    public string Name => Path[(EdgeSelectorOptions.Section.Length + 1)..];

    /// <summary>What the value must look like, for --help and error messages.</summary>
    public string Kind => ConfigurationValues.Describe(Property.PropertyType);
}

/// <summary>
/// Every key the server reads, enumerated from the options types themselves (their public settable properties, with
/// the defaults a new instance carries): <c>--help</c>, the unknown-key check and the docs test all read this list,
/// so none of them can drift from the code. Trim-safe: the annotations keep exactly these properties under native AOT.
/// </summary>
internal static class ConfigurationKeys
{
    /// <summary>The options types and their sections, in the order --help lists them.</summary>
    public static IReadOnlyList<ConfigurationKey> All { get; } =
    [
        .. Of<EdgeSelectorOptions>(EdgeSelectorOptions.Section),
        .. Of<NatsOptions>(NatsOptions.Section),
        .. Of<Rollout.RolloutOptions>(Rollout.RolloutOptions.Section),
    ];

    /// <summary>The sections that hold keys (a value set on a section itself, e.g. <c>EdgeSelector:Nats=x</c>, is unknown).</summary>
    public static IReadOnlyList<string> Sections { get; } = [EdgeSelectorOptions.Section, NatsOptions.Section, Rollout.RolloutOptions.Section];

    /// <summary>The key at <paramref name="path"/> (configuration keys are case-insensitive), or null.</summary>
    public static ConfigurationKey? Find(string path) =>
        All.FirstOrDefault(k => string.Equals(k.Path, path, StringComparison.OrdinalIgnoreCase));

    /// <summary>The valid key closest to <paramref name="path"/> (edit distance, ignoring case), or null when none is close.</summary>
    public static ConfigurationKey? Closest(string path)
    {
        ConfigurationKey? best = null;
        var bestDistance = int.MaxValue;
        foreach (var key in All)
        {
            var distance = EditDistance(path.ToUpperInvariant(), key.Path.ToUpperInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (key, distance);
            }
        }

        // Farther than a third of the name is a different word, not a typo: no suggestion beats a wrong one.
        var name = path.Length > EdgeSelectorOptions.Section.Length ? path.Length - EdgeSelectorOptions.Section.Length - 1 : path.Length;
        return bestDistance <= Math.Max(2, name / 3) ? best : null;
    }

    private static IEnumerable<ConfigurationKey> Of<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] T>(string section)
        where T : new()
    {
        var defaults = new T();
        foreach (var property in typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            // A nested options object (EdgeSelector:Rollout) is a section, listed through its own type below.
            if (property.SetMethod is { IsPublic: true } && property.GetMethod is { IsPublic: true } && !IsSection(property.PropertyType))
            {
                yield return new ConfigurationKey($"{section}:{property.Name}", property, Format(property.GetValue(defaults)));
            }
        }
    }

    /// <summary>Whether a property of this type holds a nested section rather than a value (any class but string).</summary>
    public static bool IsSection(Type type) => type.IsClass && type != typeof(string) && !type.IsArray;

    private static string Format(object? value) => value switch
    {
        null => string.Empty,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    // Damerau-free Levenshtein distance: keys are short (< 40 characters), so the O(n·m) table is nothing.
    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
