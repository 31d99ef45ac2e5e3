using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;

namespace EdgeSelector.Learning.Simulation;

/// <summary>What an image shows; each theme appeals to members who watch certain genres.</summary>
public enum ImageTheme : byte
{
    /// <summary>A comedian mid-joke.</summary>
    Comedian,
    /// <summary>A romantic couple.</summary>
    RomanticCouple,
    /// <summary>A car chase.</summary>
    CarChase,
    /// <summary>A well-known cast member.</summary>
    CastMember,
    /// <summary>A sweeping landscape.</summary>
    Landscape,
    /// <summary>A monster.</summary>
    Monster,
    /// <summary>A family scene.</summary>
    Family,
}

/// <summary>One candidate image of a simulated title.</summary>
/// <param name="Id">Image id (unique in the world).</param>
/// <param name="Theme">What it shows.</param>
/// <param name="Effect">Logit effect on quality play, the same for every member.</param>
/// <param name="Clickbait">True for a click-bait image: more play starts, fewer quality plays.</param>
public sealed record SimulatedImage(uint Id, ImageTheme Theme, double Effect, bool Clickbait);

/// <summary>One simulated title.</summary>
/// <param name="Id">Title id.</param>
/// <param name="Genres">Genre mix (sums to 1).</param>
/// <param name="Effect">Logit effect of the title (image-independent).</param>
/// <param name="Popularity">Probability that an impression is for this title (Zipf over a random rank).</param>
/// <param name="Images">Candidates; index 0 is the default image.</param>
public sealed record SimulatedTitle(uint Id, float[] Genres, double Effect, double Popularity, SimulatedImage[] Images);

/// <summary>
/// A seeded synthetic world with a known ground truth: members with genre tastes, country, language, device and
/// viewing hours; titles with genre mixes and Zipf popularity; per title a pool of themed images. For a (member,
/// title) pair the context (recommender score, interacted-before, day) is a fixed function of the pair, so every
/// expectation over impressions is an exact finite sum (<see cref="TrueValue(PolicyTable, bool)"/>).
/// </summary>
/// <remarks>
/// logit P(quality play | m, t, i) = base + title effect + taste·weight × (taste_m · genres_t) + rec·(score − ½)
/// + interacted + image effect (+ click-bait penalty) + personal weight × (taste_m · genres of theme_i).
/// P(play start) = q + (1 − q) × (base bounce + click-bait bounce): click-bait raises starts, not quality plays.
/// </remarks>
public sealed class SimulatedWorld
{
    /// <summary>Genres each theme appeals to (indices into the 16 genre slots).</summary>
    internal static readonly int[][] ThemeGenres =
    [
        [1],        // comedian: comedy
        [3, 2],     // romantic couple: romance, drama
        [0, 5],     // car chase: action, thriller
        [2, 9],     // cast member: drama, crime
        [7, 10],    // landscape: documentary, fantasy
        [4, 6],     // monster: horror, sci-fi
        [11, 8],    // family: family, animation
    ];

    private static readonly string[] Countries = ["US", "GB", "BR", "DE", "JP", "IN"];
    private static readonly string[] Languages = ["en", "en", "pt", "de", "ja", "hi"];

    private readonly MemberContext[] _members;
    private readonly double[] _titleCdf;

    /// <summary>Builds the world of <paramref name="scenario"/> (deterministic in its seed).</summary>
    public SimulatedWorld(Scenario scenario)
    {
        Scenario = scenario.Validate();
        var random = new Random(scenario.Seed);
        _members = new MemberContext[scenario.Members];
        Span<double> taste = stackalloc double[MemberProfile.GenreCount];
        for (var m = 0; m < _members.Length; m++)
        {
            var country = random.Next(Countries.Length);
            var member = new MemberContext
            {
                MemberId = (ulong)(m + 1),
                Country = CountryCode.Pack(Countries[country]),
                Language = CountryCode.Pack(Languages[country]),
                Device = (DeviceClass)(1 + random.Next(5)),
                LocalHour = (byte)((18 + random.Next(8)) % 24),
            };
            // Sparse tastes: a few genres dominate each member's viewing.
            var sum = 0.0;
            for (var g = 0; g < taste.Length; g++)
            {
                taste[g] = Math.Pow(random.NextDouble(), 4);
                sum += taste[g];
            }

            for (var g = 0; g < taste.Length; g++)
            {
                member.Genres[g] = (float)(taste[g] / sum);
            }

            _members[m] = member;
        }

        var ranks = Enumerable.Range(1, scenario.Titles).OrderBy(_ => random.Next()).ToArray();
        var zipfNorm = ranks.Sum(r => Math.Pow(r, -scenario.ZipfExponent));
        var titles = new SimulatedTitle[scenario.Titles];
        uint nextImageId = 1;
        for (var t = 0; t < titles.Length; t++)
        {
            var genres = new float[MemberProfile.GenreCount];
            var mix = 1 + random.Next(3);
            for (var j = 0; j < mix; j++)
            {
                genres[random.Next(genres.Length)] += 1f / mix;
            }

            var images = new SimulatedImage[scenario.ImagesMin + random.Next(scenario.ImagesMax - scenario.ImagesMin + 1)];
            for (var i = 0; i < images.Length; i++)
            {
                var clickbait = i > 0 && random.NextDouble() < scenario.ClickbaitShare;
                images[i] = new SimulatedImage(
                    nextImageId++,
                    (ImageTheme)random.Next(ThemeGenres.Length),
                    (Gaussian(random) * scenario.ImageEffectSd) + (clickbait ? scenario.ClickbaitQualityEffect : 0),
                    clickbait);
            }

            titles[t] = new SimulatedTitle(
                (uint)(1000 + t), genres, Gaussian(random) * scenario.TitleEffectSd,
                Math.Pow(ranks[t], -scenario.ZipfExponent) / zipfNorm, images);
        }

        Titles = titles;
        _titleCdf = new double[titles.Length];
        var cumulative = 0.0;
        for (var t = 0; t < titles.Length; t++)
        {
            cumulative += titles[t].Popularity;
            _titleCdf[t] = cumulative;
        }

        MaxImages = titles.Max(t => t.Images.Length);
    }

    /// <summary>The scenario the world was built from.</summary>
    public Scenario Scenario { get; }

    /// <summary>The titles.</summary>
    public IReadOnlyList<SimulatedTitle> Titles { get; }

    /// <summary>Number of members.</summary>
    public int MemberCount => _members.Length;

    /// <summary>Largest candidate count of any title.</summary>
    public int MaxImages { get; }

    /// <summary>The context of member <paramref name="m"/> when shown title <paramref name="t"/>: fixed per pair.</summary>
    public void Context(int m, int t, out MemberContext member, out TitleContext title)
    {
        member = _members[m];
        // The world's own hash, not Core's: a change to the engine's hashing must not re-roll the world under the
        // tests that pin its estimates.
        var h = SplitMix64.Mix(SplitMix64.Mix((ulong)Scenario.Seed ^ SplitMix64.Mix((ulong)m)) ^ (ulong)t);
        member.DayOfWeek = (byte)(h % 7);
        // The recommender is informative: its score leans on taste · genres, plus noise.
        var match = TasteMatch(member, Titles[t].Genres);
        var noise = SplitMix64.Unit(SplitMix64.Mix(h + 1));
        title = new TitleContext
        {
            TitleId = Titles[t].Id,
            RecommenderScore = (float)Math.Clamp((0.6 * Math.Min(1, 2 * match)) + (0.4 * noise), 0, 1),
            Interacted = SplitMix64.Unit(SplitMix64.Mix(h + 2)) < 0.1,
        };
    }

    /// <summary>True P(quality play) for member m, title t, image i.</summary>
    public double QualityProbability(int m, int t, int i)
    {
        Context(m, t, out var member, out var title);
        var s = Scenario;
        var image = Titles[t].Images[i];
        var logit = s.BaseLogit + Titles[t].Effect
            + (s.TitleTasteWeight * TasteMatch(member, Titles[t].Genres))
            + (s.RecommenderWeight * (title.RecommenderScore - 0.5))
            + (title.Interacted ? s.InteractedWeight : 0)
            + image.Effect
            + (s.PersonalWeight * ThemeMatch(member, image.Theme) * (title.Interacted ? s.InteractedPersonalFactor : 1));
        return 1 / (1 + Math.Exp(-logit));
    }

    /// <summary>True P(play start) for member m, title t, image i (quality plays plus bounces).</summary>
    public double PlayStartProbability(int m, int t, int i)
    {
        var q = QualityProbability(m, t, i);
        var bounce = Scenario.BaseBounce + (Titles[t].Images[i].Clickbait ? Scenario.ClickbaitBounce : 0);
        return q + ((1 - q) * bounce);
    }

    /// <summary>taste · genres of the theme: how much the member likes what the image shows.</summary>
    public static double ThemeMatch(in MemberContext member, ImageTheme theme)
    {
        var genres = ThemeGenres[(int)theme];
        var sum = 0.0;
        foreach (var g in genres)
        {
            sum += member.Genres[g];
        }

        return sum / genres.Length;
    }

    /// <summary>The impression record of showing image <paramref name="i"/> with probability <paramref name="propensity"/>.</summary>
    public ImpressionRecord Record(ulong eventId, long unixMs, int m, int t, int i, double propensity, Core.Exploration.PolicyKind kind)
    {
        Context(m, t, out var member, out var title);
        var image = Titles[t].Images[i];
        var record = ImpressionRecord.FromDecision(
            eventId, unixMs,
            new Core.Selection.Decision { Index = i, ImageId = image.Id, Policy = kind },
            Titles[t].Images.Length, member, title);
        record.Propensity = propensity;
        return record;
    }

    /// <summary>A title index drawn by popularity from a uniform <paramref name="u"/> in [0, 1).</summary>
    public int SampleTitle(double u)
    {
        var index = Array.BinarySearch(_titleCdf, u);
        return Math.Min(index < 0 ? ~index : index, _titleCdf.Length - 1);
    }

    /// <summary>
    /// The exact value of a policy: Σ_t P(t) · (1/M) Σ_m Σ_i π(i | m, t) · P(quality play | m, t, i), or with
    /// P(play start) when <paramref name="playStarts"/> (what a click-through metric would report).
    /// </summary>
    public double TrueValue(PolicyTable policy, bool playStarts = false) => TrueValue(policy, null, playStarts);

    /// <summary>
    /// The exact value of a policy within a segment: the same sum over the (member, title) pairs
    /// <paramref name="inSegment"/> accepts (null: all), weighted by title popularity and normalised by the segment's share.
    /// </summary>
    public double TrueValue(PolicyTable policy, Func<MemberContext, TitleContext, bool>? inSegment, bool playStarts = false)
    {
        var value = 0.0;
        var weight = 0.0;
        for (var t = 0; t < Titles.Count; t++)
        {
            var sum = 0.0;
            var pairs = 0;
            for (var m = 0; m < MemberCount; m++)
            {
                if (inSegment is not null)
                {
                    Context(m, t, out var member, out var title);
                    if (!inSegment(member, title))
                    {
                        continue;
                    }
                }

                pairs++;
                var pmf = policy.Pmf(m, t);
                for (var i = 0; i < pmf.Length; i++)
                {
                    if (pmf[i] > 0)
                    {
                        sum += pmf[i] * (playStarts ? PlayStartProbability(m, t, i) : QualityProbability(m, t, i));
                    }
                }
            }

            value += Titles[t].Popularity * sum / MemberCount;
            weight += Titles[t].Popularity * pairs / MemberCount;
        }

        return weight > 0 ? value / weight : double.NaN;
    }

    internal static double TasteMatch(in MemberContext member, float[] genres)
    {
        var sum = 0.0;
        for (var g = 0; g < genres.Length; g++)
        {
            sum += member.Genres[g] * genres[g];
        }

        return sum * MemberProfile.GenreCount / 4;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
