using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Health;
using EdgeSelector.Server.Hosting;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Demo;

/// <summary>
/// A synthetic catalog of the size the load targets use (docs/performance.md, "Load (issue 6)"): titles
/// <c>SyntheticFirstTitleId ..</c> with <c>SyntheticImages</c> images each in the default 64-feature space, and
/// member profiles <c>1..SyntheticMembers</c>. Seeded into an empty store like the demo, deterministically (fixed
/// seed), with random weights around a plausible take rate so the argmax differs between members and titles.
/// </summary>
/// <remarks>
/// Image ids are <c>title_id * 100 + k</c> for k = 1..images, so a response can be checked against its title; the
/// default image is k = 1. Members outside <c>1..SyntheticMembers</c> have no profile (fallback <c>NoProfile</c>
/// unless the request carries genres).
/// </remarks>
internal static class SyntheticCatalog
{
    private const int Seed = 6_2026;

    /// <summary>Seeds the synthetic catalog and profiles into an empty store; false when a bundle is already loaded.</summary>
    public static bool SeedIfEmpty(NodeStores stores, BundleService bundles, EdgeSelectorOptions options)
    {
        if (options.SyntheticTitles <= 0 || stores.Models.TitleCount > 0)
        {
            return false;
        }

        var space = FeatureSpace.Default;
        var rng = new Random(Seed);
        var blobs = new List<ReadOnlyMemory<byte>>(options.SyntheticTitles);
        for (var t = 0; t < options.SyntheticTitles; t++)
        {
            blobs.Add(BuildTitle(rng, (uint)(options.SyntheticFirstTitleId + t), options.SyntheticImages, space)
                .Serialize(ModelDefaults.ServingPrecision));
        }

        var manifest = new BundleManifest
        {
            Version = 1,
            CreatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            MetricsJson = "{\"source\":\"synthetic load catalog\"}",
        };
        var applied = bundles.ApplyVerified(manifest, blobs);
        if (!applied.Ok)
        {
            throw new StartupRefusedException($"seeding the synthetic catalog failed: {applied.Message}");
        }

        SeedProfiles(stores, options.SyntheticMembers, rng);
        if (!stores.Checkpoint(stores.WriteTimeout))
        {
            throw new StartupRefusedException($"seeding the synthetic catalog: the checkpoint did not complete within {stores.WriteTimeout.TotalSeconds} s (disk full or failing?)");
        }

        return true;
    }

    private static TitleModel BuildTitle(Random rng, uint titleId, int images, FeatureSpace space)
    {
        var model = new TitleModel(titleId, 1, titleId * 100 + 1, space)
        {
            PriorMean = 0.02f + (0.08f * rng.NextSingle()),
            ColdTitle = false,
        };
        for (var k = 1; k <= images; k++)
        {
            var image = model.AddColdImage((titleId * 100) + (uint)k, ColdStartPrior.Default);
            image.Cold = false;
            image.Bias = model.PriorMean * (0.8f + (0.4f * rng.NextSingle()));
            var weights = image.Weights;
            for (var f = 0; f < weights.Length; f++)
            {
                // Small weights on every feature, a few larger ones: the best image depends on who asks.
                weights[f] = (rng.NextSingle() - 0.5f) * (rng.NextDouble() < 0.1 ? 0.2f : 0.02f);
            }
        }

        return model;
    }

    private static void SeedProfiles(NodeStores stores, int members, Random rng)
    {
        string[] countries = ["US", "GB", "FR", "DE", "BR", "JP", "IN", "ES"];
        const int Batch = 50_000;
        var ids = new ulong[Math.Min(Batch, members)];
        var profiles = new MemberProfile[ids.Length];
        for (var start = 0; start < members; start += Batch)
        {
            var n = Math.Min(Batch, members - start);
            for (var i = 0; i < n; i++)
            {
                ids[i] = (ulong)(start + i + 1);
                profiles[i] = default;
                var c = countries[rng.Next(countries.Length)];
                profiles[i].Country = CountryCode.Pack(c);
                profiles[i].Language = CountryCode.Pack(c == "GB" || c == "US" ? "EN" : c);
                profiles[i].Device = (DeviceClass)(1 + rng.Next(5));
                for (var g = 0; g < MemberProfile.GenreCount; g++)
                {
                    profiles[i].Genres[g] = rng.NextDouble() < 0.3 ? rng.NextSingle() : 0f;
                }
            }

            stores.Profiles.UpsertMany(ids.AsSpan(0, n), profiles.AsSpan(0, n));
        }
    }
}
