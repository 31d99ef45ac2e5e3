using EdgeSelector.Core.Features;
using EdgeSelector.Learning.Catalog;

namespace EdgeSelector.Learning.Training;

/// <summary>What <see cref="LoopWorldOptions"/> adds: time, fatigue, prior interaction, the page effect, embeddings.</summary>
public sealed partial class LoopWorld
{
    /// <summary>When the simulated world starts (unix ms): 2026-01-01T00:00Z, the loop simulation's first impression.</summary>
    public static readonly long StartMs = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    // Room per title for its four images and up to five new ones (image ids title·10 + 1 … title·10 + 9).
    private const int ImageSlots = 9;

    private readonly double[] _fatigue;
    private readonly long[] _fatigueAtMs;

    /// <summary>The world's clock (unix ms): drift, novelty and fatigue are evaluated at this time.</summary>
    public long NowMs { get; set; } = StartMs;

    /// <summary>True once the new images (<see cref="LoopWorldOptions.NewImagesPerTitle"/>) are in service.</summary>
    public bool NewImagesInService { get; set; }

    /// <summary>True when the member has interacted with the title before (a fixed property of the pair).</summary>
    public bool Interacted(int m, uint titleId) =>
        Options.InteractedShare > 0 && Unit(((ulong)m << 32) | titleId) < Options.InteractedShare;

    /// <summary>When the title launches (unix ms).</summary>
    public long LaunchMs(uint titleId) => StartMs + (long)((titleId - 2001) * Options.LaunchSpacingHours * 3_600_000);

    /// <summary>True when the title has launched by <see cref="NowMs"/> (only launched titles get traffic).</summary>
    public bool IsLaunched(uint titleId) => LaunchMs(titleId) <= NowMs;

    /// <summary>The images a policy can show now (with the new ones once they are in service).</summary>
    public List<CatalogImage> ImagesInService(uint titleId) =>
        (NewImagesInService ? CatalogWithNewImages : Catalog).Titles[(int)(titleId - 2001)].Images;

    /// <summary>True for an image that is not in the starting catalog.</summary>
    public bool IsNewImage(uint titleId, uint imageId) => imageId - (titleId * 10) > 4;

    /// <summary>Records that the image was shown now (its fatigue).</summary>
    public void Shown(uint titleId, uint imageId)
    {
        if (Options.FatigueImpressions > 0)
        {
            var slot = Slot(titleId, imageId);
            _fatigue[slot] = RecentShows(slot) + 1;
            _fatigueAtMs[slot] = NowMs;
        }
    }

    /// <summary>
    /// P(quality play) for the member, image, interacted flag and <paramref name="repeats"/> other titles on the page
    /// with the same theme, in the world's current state.
    /// </summary>
    public double QualityProbability(int m, uint titleId, uint imageId, bool interacted, int repeats)
    {
        var theme = Theme(titleId, imageId);
        var o = Options;
        double p;
        if (theme < 0)
        {
            p = ClickbaitQuality;
        }
        else
        {
            // After the taste shift, the image of genre g pulls the fans of the next genre in play.
            var pulls = o.TasteShiftAtMs > 0 && NowMs >= o.TasteShiftAtMs ? (theme + 1) % GenresInPlay : theme;
            p = 0.02 + (0.30 * _affinity[m][pulls] * (interacted ? o.InteractedThemeFactor : 1));
        }

        var keyArt = imageId == (titleId * 10) + 1;
        p += interacted ? o.InteractedBase + (keyArt ? o.InteractedKeyArt : 0) : 0;
        if (o.NoveltyBoost > 0 && keyArt)
        {
            var age = Math.Max(0, NowMs - LaunchMs(titleId)) / 3_600_000.0;
            p += o.NoveltyBoost * Math.Pow(2, -age / o.NoveltyHalfLifeHours);
        }

        if (o.FatigueImpressions > 0)
        {
            p /= 1 + (RecentShows(Slot(titleId, imageId)) / o.FatigueImpressions);
        }

        if (repeats > 0)
        {
            p *= Math.Pow(1 - o.PageRepeatPenalty, repeats);
        }

        return Math.Clamp(p, 0, 1);
    }

    private static int ImageIndex(uint titleId, uint imageId) => (int)(imageId - (titleId * 10) - 1);

    private int Slot(uint titleId, uint imageId) => ((int)(titleId - 2001) * ImageSlots) + ImageIndex(titleId, imageId);

    private double RecentShows(int slot)
    {
        var hours = (NowMs - _fatigueAtMs[slot]) / 3_600_000.0;
        return hours <= 0 ? _fatigue[slot] : _fatigue[slot] * Math.Pow(2, -hours / Options.FatigueHalfLifeHours);
    }

    private double Unit(ulong key) => SplitMix64.Unit(SplitMix64.Mix(key ^ SplitMix64.Mix((ulong)Options.Seed)));

    // New (untagged) images and embeddings: a fixed random map E × 7 from the theme (six genres and click-bait) to the
    // vector, plus noise per image, so similar images get similar vectors as a vision model's would.
    private (CatalogDocument WithNew, ImageEmbeddings Embeddings) BuildExtensions(Random rng)
    {
        var o = Options;
        var embeddings = new ImageEmbeddings();
        var map = new double[GenresInPlay + 1][];
        for (var theme = 0; theme < map.Length; theme++)
        {
            map[theme] = [.. Enumerable.Range(0, o.EmbeddingDimension).Select(_ => Gaussian(rng))];
        }

        var withNew = new CatalogDocument();
        foreach (var title in Catalog.Titles)
        {
            var themes = _imageTheme[title.Id];
            var extended = new List<int>(themes);
            var images = new List<CatalogImage>(title.Images);
            for (var k = 0; k < o.NewImagesPerTitle; k++)
            {
                var id = (title.Id * 10) + (uint)images.Count + 1;
                images.Add(new CatalogImage { Id = id, Tags = [] });
                extended.Add(rng.Next(GenresInPlay));
            }

            _imageTheme[title.Id] = [.. extended];
            withNew.Titles.Add(title with { Images = images });
            if (o.EmbeddingDimension == 0)
            {
                continue;
            }

            for (var i = 0; i < images.Count; i++)
            {
                var row = map[extended[i] < 0 ? GenresInPlay : extended[i]];
                embeddings.Set(title.Id, images[i].Id, [.. row.Select(v => (float)(v + (o.EmbeddingNoise * Gaussian(rng))))]);
            }
        }

        return (withNew, embeddings);
    }

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
