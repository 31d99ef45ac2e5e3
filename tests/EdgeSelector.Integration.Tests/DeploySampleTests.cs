using System.Reflection;
using System.Text.Json;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Fleet;
using Microsoft.Extensions.Configuration;

namespace EdgeSelector.Integration.Tests;

/// <summary>deploy/appsettings.json lists every configuration key with its default; deploy/edgeselector.service is coherent.</summary>
public sealed class DeploySampleTests
{
    private static readonly string Deploy = Path.Combine(RepositoryRoot(), "deploy");

    // The subsection EdgeSelector:Nats (the fleet, docs/fleet.md) binds to its own options type.
    private const string NatsSubsection = "Nats";

    private static IEnumerable<PropertyInfo> Keys() => Keys(typeof(EdgeSelectorOptions));

    private static IEnumerable<PropertyInfo> Keys(Type options) =>
        options.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && !EdgeSelector.Server.Configuration.ConfigurationKeys.IsSection(p.PropertyType));

    [Fact]
    public void AppSettings_HasEveryOptionsKey_AndNoOther()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Deploy, "appsettings.json")));
        var section = json.RootElement.GetProperty(EdgeSelectorOptions.Section);
        var inSample = section.EnumerateObject().Select(p => p.Name).Where(n => n != NatsSubsection && n != "Rollout").ToHashSet();
        var inCode = Keys().Select(p => p.Name).ToHashSet();

        Assert.True(inCode.IsSubsetOf(inSample), "missing from deploy/appsettings.json: " + string.Join(", ", inCode.Except(inSample)));
        Assert.True(inSample.IsSubsetOf(inCode), "not configuration keys (renamed or removed?): " + string.Join(", ", inSample.Except(inCode)));

        var rolloutInSample = section.GetProperty("Rollout").EnumerateObject().Select(p => p.Name).ToHashSet();
        var rolloutInCode = Keys(typeof(EdgeSelector.Server.Rollout.RolloutOptions)).Select(p => p.Name).ToHashSet();
        Assert.True(rolloutInCode.SetEquals(rolloutInSample), $"Rollout: code has {string.Join(", ", rolloutInCode.Order())}; the sample {string.Join(", ", rolloutInSample.Order())}");

        var natsInSample = section.GetProperty(NatsSubsection).EnumerateObject().Select(p => p.Name).ToHashSet();
        var natsInCode = Keys(typeof(NatsOptions)).Select(p => p.Name).ToHashSet();
        Assert.True(natsInCode.SetEquals(natsInSample), $"{NatsOptions.Section}: code has {string.Join(", ", natsInCode.Order())}; the sample {string.Join(", ", natsInSample.Order())}");
    }

    [Fact]
    public void AppSettings_NatsSection_EveryValueIsTheDefault_NoFleet()
    {
        var configuration = new ConfigurationBuilder().AddJsonFile(Path.Combine(Deploy, "appsettings.json")).Build();
        var bound = new NatsOptions();
        configuration.GetSection(NatsOptions.Section).Bind(bound);
        var defaults = new NatsOptions();

        foreach (var key in Keys(typeof(NatsOptions)))
        {
            Assert.True(Equals(key.GetValue(defaults), key.GetValue(bound)), $"Nats:{key.Name}: sample {key.GetValue(bound)}, default {key.GetValue(defaults)}");
        }

        Assert.False(bound.Validate().Enabled); // the sample is a single node
    }

    [Fact]
    public void AppSettings_EveryValueIsTheDefault_AndValid()
    {
        var configuration = new ConfigurationBuilder().AddJsonFile(Path.Combine(Deploy, "appsettings.json")).Build();
        var bound = new EdgeSelectorOptions();
        configuration.GetSection(EdgeSelectorOptions.Section).Bind(bound);
        var defaults = new EdgeSelectorOptions();

        foreach (var key in Keys())
        {
            Assert.True(Equals(key.GetValue(defaults), key.GetValue(bound)), $"{key.Name}: sample {key.GetValue(bound)}, default {key.GetValue(defaults)}");
        }

        bound.Validate();
    }

    [Fact]
    public void Unit_RunsAsItsOwnUser_WithStateDirectory_SecretsFromAFile_AndRestart()
    {
        var unit = File.ReadAllLines(Path.Combine(Deploy, "edgeselector.service"))
            .Where(l => l.Length > 0 && !l.StartsWith('#') && l.Contains('='))
            .Select(l => l.Split('=', 2))
            .ToLookup(p => p[0], p => p[1]);

        Assert.Equal("edgeselector", unit["User"].Single());
        Assert.Equal("edgeselector", unit["StateDirectory"].Single());
        Assert.Contains("EdgeSelector__DataDir=/var/lib/edgeselector", unit["Environment"]);
        Assert.Equal("/etc/edgeselector/secrets.env", unit["EnvironmentFile"].Single());
        Assert.Equal("on-failure", unit["Restart"].Single());
        // The stop timeout outlasts the host's 30 s drain plus the log commit and checkpoint after it.
        Assert.True(int.Parse(unit["TimeoutStopSec"].Single(), System.Globalization.CultureInfo.InvariantCulture) > 30);
        // No secret in the unit itself.
        Assert.DoesNotContain(unit["Environment"], e => e.Contains("AdminToken", StringComparison.Ordinal) || e.Contains("BundleKey", StringComparison.Ordinal));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EdgeSelector.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("EdgeSelector.sln not found above " + AppContext.BaseDirectory);
    }
}
