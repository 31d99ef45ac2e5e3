using EdgeSelector.Server.Serving;
using EdgeSelector.Storage.Models;

namespace EdgeSelector.Server.Admin;

/// <summary>The admin API's views of the serving state (the services return domain objects; this maps them to JSON bodies).</summary>
internal static class AdminListings
{
    /// <summary>GET /v1/models: the active and previous bundles, the store's generations and the recent history.</summary>
    public static ModelsListing Models(ModelStore models, IReadOnlyList<AppliedBundle> history)
    {
        var active = models.Version;
        var bodies = history.Select(ToBody).ToList();
        return new ModelsListing
        {
            ActiveVersion = active,
            PreviousVersion = models.PreviousVersion,
            Titles = models.TitleCount,
            Active = bodies.LastOrDefault(b => b.Version == active),
            Generations = [.. models.Generations.Select(g => new GenerationListing { Version = g.Version, Titles = g.TitleCount, CreatedAt = g.CreatedAt })],
            History = bodies,
        };
    }

    private static BundleInfo ToBody(AppliedBundle bundle) => new()
    {
        Version = bundle.Version,
        ParentVersion = bundle.ParentVersion,
        CreatedAtMs = bundle.CreatedAtMs,
        TrainingFromMs = bundle.TrainingFromMs,
        TrainingToMs = bundle.TrainingToMs,
        Full = bundle.Full,
        Titles = bundle.Titles,
        AppliedAtMs = bundle.AppliedAtMs,
        Metrics = bundle.Metrics,
        KeyId = bundle.KeyId,
        Sha256 = bundle.Sha256,
    };
}
