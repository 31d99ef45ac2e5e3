using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Hosting;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.Logging.Console;

namespace EdgeSelector.Server.Diagnostics;

/// <summary>The node's logging defaults and its start-up report (docs/operations.md, "Logging").</summary>
internal static class NodeLogging
{
    /// <summary>
    /// Default levels, as the lowest-priority configuration source so that appsettings.json, <c>Logging__*</c>
    /// variables and <c>--Logging:*</c> arguments override each of them: the node's own events at Information (they
    /// are operator events, never per request), everything else at Warning except the host's start/stop lines.
    /// </summary>
    public static void AddDefaults(IConfigurationBuilder configuration) =>
        configuration.Sources.Insert(0, new MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Warning",
                ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
                ["Logging:LogLevel:EdgeSelector"] = "Information",
            },
        });

    /// <summary>
    /// Honours <c>Logging:Console:FormatterName</c> (simple, json or systemd): the slim builder pins the simple formatter
    /// after reading configuration, so the configured name is applied again here; any other name is a configuration
    /// error (exit code 2) rather than a silently ignored setting.
    /// </summary>
    public static void UseConfiguredFormatter(WebApplicationBuilder builder)
    {
        const string Key = "Logging:Console:FormatterName";
        var name = builder.Configuration[Key]?.ToLowerInvariant();
        if (string.IsNullOrEmpty(name))
        {
            return;
        }

        if (name is not (ConsoleFormatterNames.Simple or ConsoleFormatterNames.Json or ConsoleFormatterNames.Systemd))
        {
            throw StartupException.Configuration($"{Key} = '{name}' is not a console formatter; expected simple, json or systemd");
        }

        builder.Services.Configure<ConsoleLoggerOptions>(console => console.FormatterName = name);
    }

    /// <summary>What each store recovered from the data directory.</summary>
    public static void Recovered(ILogger logger, NodeStores stores)
    {
        var models = stores.Models;
        NodeLog.ModelsRecovered(logger, Path.Combine(stores.DataDir, "models"), models.Version, models.TitleCount, models.PreviousVersion);
        NodeLog.ProfilesRecovered(logger, Path.Combine(stores.DataDir, "profiles"), stores.Profiles.HeadAddress, stores.Profiles.TailAddress);
        if (stores.Impressions is { } impressions)
        {
            NodeLog.LogRecovered(logger, "impression", impressions.BeginAddress, impressions.TailAddress, impressions.CommittedUntilAddress);
        }

        NodeLog.LogRecovered(logger, "reward", stores.Rewards.BeginAddress, stores.Rewards.TailAddress, stores.Rewards.CommittedUntilAddress);
    }
}
