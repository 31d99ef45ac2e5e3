namespace EdgeSelector.Learning.Training;

/// <summary>
/// What a <see cref="LoopWorld"/> adds to its stationary core (docs/learning.md, section 8): a world that changes
/// (tastes that shift, titles whose novelty wears off, images that wear out), members who already know a title, a page
/// effect, and image embeddings with images added later. Everything defaults to off: the default world is the
/// stationary one of section 7.
/// </summary>
public sealed record LoopWorldOptions
{
    /// <summary>Number of titles.</summary>
    public int Titles { get; init; } = 20;

    /// <summary>Number of members.</summary>
    public int Members { get; init; } = 10_000;

    /// <summary>Seed of the world.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>
    /// Taste shift (unix ms; 0 = never): from then on a themed image of genre g pulls the fans of the next genre in
    /// play (g + 1 mod 6) instead of its own. Profiles do not change (they are computed from past viewing), so the
    /// model must relearn which artwork a profile responds to.
    /// </summary>
    public long TasteShiftAtMs { get; init; }

    /// <summary>
    /// Novelty: a title's key art (its default image) adds this much to the quality-play probability of every member
    /// at launch, halving every <see cref="NoveltyHalfLifeHours"/>; the personal choice wins once it has worn off.
    /// 0 = no novelty.
    /// </summary>
    public double NoveltyBoost { get; init; }

    /// <summary>Half-life of the novelty boost, in hours.</summary>
    public double NoveltyHalfLifeHours { get; init; } = 12;

    /// <summary>Hours between two titles' launches (title t launches at the world's start + t × this; 0 = all at once).</summary>
    public double LaunchSpacingHours { get; init; }

    /// <summary>
    /// Image fatigue: an image's quality-play probability is divided by 1 + (its recent impressions) / this; recent
    /// impressions decay with <see cref="FatigueHalfLifeHours"/>. An image shown a lot wears out and recovers when rested.
    /// 0 = no fatigue.
    /// </summary>
    public double FatigueImpressions { get; init; }

    /// <summary>Half-life of an image's recent-impressions count, in hours.</summary>
    public double FatigueHalfLifeHours { get; init; } = 24;

    /// <summary>Share of (member, title) pairs where the member has interacted with the title before (fixed per pair).</summary>
    public double InteractedShare { get; init; }

    /// <summary>How much of the artwork's personal pull (taste × theme) remains for a member who knows the title (1 = all).</summary>
    public double InteractedThemeFactor { get; init; } = 1;

    /// <summary>Quality-play probability added for a member who knows the title, whatever the image.</summary>
    public double InteractedBase { get; init; }

    /// <summary>
    /// Quality-play probability added to the key art (the default image) for a member who knows the title: they
    /// recognise it. With a small <see cref="InteractedThemeFactor"/> the key art, not the member's theme, is then the
    /// best image for them, which a model needs genre × interacted weights (schema 2) to see.
    /// </summary>
    public double InteractedKeyArt { get; init; }

    /// <summary>
    /// Page effect: a title's quality-play probability is multiplied by (1 − this) for every other title of the same
    /// page that shows an image of the same theme (click-bait counts as one theme). 0 = no page effect.
    /// </summary>
    public double PageRepeatPenalty { get; init; }

    /// <summary>
    /// Dimension of the image embeddings the catalog carries (0 = none): a fixed random linear map of the image's
    /// theme plus noise, as a vision model's vector would relate to what the image shows.
    /// </summary>
    public int EmbeddingDimension { get; init; }

    /// <summary>Standard deviation of the noise added to each embedding coordinate.</summary>
    public double EmbeddingNoise { get; init; } = 0.1;

    /// <summary>
    /// Images per title that are not in the starting catalog but in <see cref="LoopWorld.CatalogWithNewImages"/>: themed
    /// like the others but without tags (nobody has written them), with an embedding when the world has them.
    /// </summary>
    public int NewImagesPerTitle { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> on a value out of range.</summary>
    public LoopWorldOptions Validate()
    {
        if (Titles < 1 || Members < 1 || NewImagesPerTitle is < 0 or > 5 || EmbeddingDimension is < 0 or > ImageEmbeddings.MaxDimension
            || InteractedShare is < 0 or > 1 || PageRepeatPenalty is < 0 or > 1 || NoveltyBoost < 0 || FatigueImpressions < 0
            || !(NoveltyHalfLifeHours > 0) || !(FatigueHalfLifeHours > 0) || LaunchSpacingHours < 0 || EmbeddingNoise < 0)
        {
            throw new ArgumentException("loop world options out of range");
        }

        return this;
    }
}
