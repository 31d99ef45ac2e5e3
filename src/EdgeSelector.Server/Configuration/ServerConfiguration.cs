using EdgeSelector.Server.Fleet;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;

namespace EdgeSelector.Server.Configuration;

/// <summary>
/// Reads the <c>EdgeSelector</c> section from every configuration source and refuses, naming the key and where it was
/// set, any key the options types do not have (with the closest valid name) and any value that is not of the key's
/// type or range, before anything is opened or bound (docs/operations.md).
/// </summary>
internal static class ServerConfiguration
{
    /// <summary>The checked, validated options; throws <see cref="StartupException"/> (exit code 2) naming the first bad key.</summary>
    public static EdgeSelectorOptions Load(IConfiguration configuration)
    {
        foreach (var (path, value) in configuration.GetSection(EdgeSelectorOptions.Section).AsEnumerable())
        {
            if (value is null || (value.Length == 0 && ConfigurationKeys.Sections.Contains(path, StringComparer.OrdinalIgnoreCase)))
            {
                continue; // a section, not a value
            }

            var key = ConfigurationKeys.Find(path);
            if (key is null)
            {
                var closest = ConfigurationKeys.Closest(path);
                throw StartupException.Configuration(
                    $"unknown key {path} ({SourceOf(configuration, path)}); " +
                    (closest is null ? "edgeselector --help lists every key" : $"did you mean {closest.Path}?"));
            }

            if (!ConfigurationValues.IsValid(key.Property.PropertyType, value))
            {
                // Only non-text keys get here, and none of them is a secret: the value can be shown.
                throw StartupException.Configuration(
                    $"{key.Path} = '{value}' ({SourceOf(configuration, path)}) is not a valid value; expected {key.Kind}");
            }
        }

        var options = new EdgeSelectorOptions();
        var nats = new NatsOptions();
        try
        {
            configuration.GetSection(EdgeSelectorOptions.Section).Bind(options);
            configuration.GetSection(NatsOptions.Section).Bind(nats);
            options.Validate();
            nats.Validate();
        }
        catch (ArgumentException e)
        {
            throw StartupException.Configuration(e.Message);
        }
        catch (InvalidOperationException e)
        {
            // The binder's own conversion error (a type the checks above do not know): its message names the key.
            throw StartupException.Configuration(e.Message);
        }

        return options;
    }

    // Later providers win, so the last one holding the key is where the value came from.
    private static string SourceOf(IConfiguration configuration, string path)
    {
        if (configuration is IConfigurationRoot root)
        {
            foreach (var provider in root.Providers.Reverse())
            {
                if (provider.TryGet(path, out _))
                {
                    return provider switch
                    {
                        CommandLineConfigurationProvider => "command line",
                        EnvironmentVariablesConfigurationProvider => $"environment variable {path.Replace(":", "__", StringComparison.Ordinal)}",
                        FileConfigurationProvider file => file.Source.Path ?? "settings file",
                        _ => provider.ToString() ?? "configuration",
                    };
                }
            }
        }

        return "configuration";
    }
}
