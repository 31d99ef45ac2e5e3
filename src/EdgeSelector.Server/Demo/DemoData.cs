using System.Reflection;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Server.Health;
using EdgeSelector.Server.Hosting;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Demo;

/// <summary>
/// The embedded default: a small catalog (docs/catalog.md format, Demo/demo-catalog.json) turned into cold-start
/// models, and seeded member profiles, so a new user can query a fresh node at once (README).
/// Members 1, 2 and 3 are a comedy fan, a romance fan and an action fan; members 4-10,000 are random.
/// </summary>
internal static class DemoData
{
    /// <summary>Number of demo members.</summary>
    public const int Members = 10_000;

    /// <summary>Seeds the demo into an empty store; does nothing when a bundle is already loaded.</summary>
    public static bool SeedIfEmpty(NodeStores stores, BundleService bundles)
    {
        if (stores.Models.TitleCount > 0)
        {
            return false;
        }

        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("demo-catalog.json")
            ?? throw new InvalidOperationException("demo catalog resource missing");
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        var models = DemoCatalog.BuildModels(memory.ToArray(), version: 1, FeatureSpace.Default);
        var blobs = models.Select(m => (ReadOnlyMemory<byte>)m.Serialize(ModelDefaults.ServingPrecision)).ToList();
        var manifest = new BundleManifest
        {
            Version = 1,
            CreatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            MetricsJson = "{\"source\":\"demo catalog, cold start\"}",
        };
        var applied = bundles.ApplyVerified(manifest, blobs);
        if (!applied.Ok)
        {
            throw new StartupRefusedException($"seeding the demo catalog failed: {applied.Message}");
        }


        var ids = new ulong[Members];
        var profiles = new MemberProfile[Members];
        var rng = new Random(20261128);
        string[] countries = ["US", "GB", "FR", "DE", "BR", "JP", "IN", "ES"];
        string[] languages = ["EN", "EN", "FR", "DE", "PT", "JA", "HI", "ES"];
        for (var i = 0; i < Members; i++)
        {
            ids[i] = (ulong)(i + 1);
            var c = rng.Next(countries.Length);
            profiles[i].Country = CountryCode.Pack(countries[c]);
            profiles[i].Language = CountryCode.Pack(languages[c]);
            profiles[i].Device = (DeviceClass)(1 + rng.Next(5));
            for (var g = 0; g < MemberProfile.GenreCount; g++)
            {
                profiles[i].Genres[g] = rng.NextDouble() < 0.3 ? (float)rng.NextDouble() : 0f;
            }
        }

        Persona(ref profiles[0], "comedy");
        Persona(ref profiles[1], "romance");
        Persona(ref profiles[2], "action");
        stores.Profiles.UpsertMany(ids, profiles);
        if (!stores.Checkpoint(stores.WriteTimeout))
        {
            throw new StartupRefusedException($"seeding the demo catalog: the checkpoint did not complete within {stores.WriteTimeout.TotalSeconds} s (disk full or failing?)");
        }

        return true;
    }

    private static void Persona(ref MemberProfile profile, string genre)
    {
        profile.Genres = default;
        profile.Genres[Genres.IndexOf(genre)] = 1f;
        profile.Country = CountryCode.Pack("US");
        profile.Language = CountryCode.Pack("EN");
        profile.Device = DeviceClass.Tv;
    }
}
