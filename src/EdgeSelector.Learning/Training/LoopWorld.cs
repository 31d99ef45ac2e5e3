using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Learning.Catalog;

namespace EdgeSelector.Learning.Training;

/// <summary>
/// A deliberately small, self-contained simulated world for the learning loop's own tests and its tables
/// (docs/learning.md, sections 7 and 8): titles with themed images and one click-bait image each, members with genre
/// tastes, and responses with quality and short plays. Not the project's general simulator; everything it assumes is
/// here and in <see cref="LoopWorldOptions"/> (drift, prior interaction, page effect, embeddings; LoopWorld.Dynamics.cs).
/// </summary>
/// <remarks>
/// Truth: a themed image of genre g is a quality play for a member with probability 0.02 + 0.30·affinity[g]; 60% of
/// its starts are quality plays (the rest are 1-4 minute plays). The click-bait image starts a play 40% of the time
/// whatever the member likes, but only 1 in 13 of those is a quality play (3% quality). Six genres are in play, each
/// title carries three of them, each member loves one (0.7-1.0) and likes another (0.3-0.6).
/// </remarks>
public sealed partial class LoopWorld
{
    /// <summary>Genres that occur in this world (the first six of schema 1).</summary>
    public const int GenresInPlay = 6;

    /// <summary>The click-bait tag.</summary>
    public const string ClickbaitTag = "clickbait";

    /// <summary>Theme of a click-bait image (a themed image's theme is its genre, 0-5).</summary>
    public const int ClickbaitTheme = -1;

    private const double ClickbaitStart = 0.40;
    private const double ClickbaitQuality = 0.03;
    private const double QualityShareOfStarts = 0.6;

    private readonly float[][] _affinity;
    private readonly byte[] _device;
    private readonly ushort[] _country;
    private readonly Dictionary<uint, int[]> _imageTheme = []; // per title: theme of each image, -1 = click-bait

    /// <summary>Builds the stationary world from a seed.</summary>
    public LoopWorld(int titles = 20, int members = 10_000, int seed = 1)
        : this(new LoopWorldOptions { Titles = titles, Members = members, Seed = seed })
    {
    }

    /// <summary>Builds the world of <paramref name="options"/>.</summary>
    public LoopWorld(LoopWorldOptions options)
    {
        Options = options.Validate();
        var rng = new Random(options.Seed);
        var catalog = new CatalogDocument();
        for (var t = 0; t < options.Titles; t++)
        {
            var id = (uint)(2001 + t);
            var genres = Enumerable.Range(0, GenresInPlay).OrderBy(_ => rng.Next()).Take(3).ToArray();
            var images = new List<CatalogImage>();
            var themes = new List<int>();
            foreach (var g in genres)
            {
                images.Add(new CatalogImage { Id = (id * 10) + (uint)images.Count + 1, Tags = [Genres.Names[g]] });
                themes.Add(g);
            }

            images.Add(new CatalogImage { Id = (id * 10) + (uint)images.Count + 1, Tags = [ClickbaitTag, Genres.Names[genres[0]]] });
            themes.Add(ClickbaitTheme);
            catalog.Titles.Add(new CatalogTitle
            {
                Id = id,
                Name = $"Title {id}",
                Genres = [.. genres.Select(g => Genres.Names[g])],
                DefaultImage = images[0].Id,
                PriorTakeRate = 0.05f,
                Images = images,
            });
            _imageTheme[id] = [.. themes];
        }

        Catalog = catalog;
        _affinity = new float[options.Members][];
        _device = new byte[options.Members];
        _country = new ushort[options.Members];
        string[] countries = ["US", "GB", "DE", "FR", "BR", "JP"];
        for (var m = 0; m < options.Members; m++)
        {
            var a = new float[MemberProfile.GenreCount];
            for (var g = 0; g < GenresInPlay; g++)
            {
                a[g] = (float)(rng.NextDouble() * 0.1);
            }

            var love = rng.Next(GenresInPlay);
            var like = (love + 1 + rng.Next(GenresInPlay - 1)) % GenresInPlay;
            a[love] = (float)(0.7 + (0.3 * rng.NextDouble()));
            a[like] = (float)(0.3 + (0.3 * rng.NextDouble()));
            _affinity[m] = a;
            _device[m] = (byte)(1 + rng.Next(5));
            _country[m] = CountryCode.Pack(countries[rng.Next(countries.Length)]);
        }

        // Everything the options add draws from its own stream, so the stationary world stays what it was.
        (CatalogWithNewImages, Embeddings) = BuildExtensions(new Random(options.Seed ^ 0x5EED));
        _fatigue = new double[options.Titles * ImageSlots];
        _fatigueAtMs = new long[options.Titles * ImageSlots];
    }

    /// <summary>The world's options.</summary>
    public LoopWorldOptions Options { get; }

    /// <summary>The catalog of the world (feeds <c>CatalogModelBuilder</c> / <c>edgesel bundle</c>).</summary>
    public CatalogDocument Catalog { get; }

    /// <summary>
    /// The catalog once the <see cref="LoopWorldOptions.NewImagesPerTitle"/> new images are in service (the same as
    /// <see cref="Catalog"/> without them); their tags are empty.
    /// </summary>
    public CatalogDocument CatalogWithNewImages { get; }

    /// <summary>Every image's embedding (empty without <see cref="LoopWorldOptions.EmbeddingDimension"/>).</summary>
    public ImageEmbeddings Embeddings { get; }

    /// <summary>Number of members.</summary>
    public int MemberCount => _affinity.Length;

    /// <summary>Title ids.</summary>
    public IEnumerable<uint> TitleIds => _imageTheme.Keys;

    /// <summary>Member id of member index m (ids start at 1).</summary>
    public static ulong MemberId(int m) => (ulong)m + 1;

    /// <summary>The member's affinities (what the profile holds).</summary>
    public ReadOnlySpan<float> Affinity(int m) => _affinity[m];

    /// <summary>The member's device.</summary>
    public DeviceClass Device(int m) => (DeviceClass)_device[m];

    /// <summary>The member's country (packed).</summary>
    public ushort Country(int m) => _country[m];

    /// <summary>The member's context at a given hour.</summary>
    public MemberContext Member(int m, byte hour = 21, byte dayOfWeek = 5)
    {
        var member = new MemberContext
        {
            MemberId = MemberId(m),
            Country = _country[m],
            Language = CountryCode.Pack("EN"),
            Device = (DeviceClass)_device[m],
            LocalHour = hour,
            DayOfWeek = dayOfWeek,
        };
        _affinity[m].AsSpan().CopyTo(member.Genres);
        return member;
    }

    /// <summary>Member index of a member id.</summary>
    public static int MemberIndex(ulong memberId) => (int)(memberId - 1);

    /// <summary>The theme of an image: its genre (0-5), or <see cref="ClickbaitTheme"/>.</summary>
    public int Theme(uint titleId, uint imageId) => _imageTheme[titleId][(int)(imageId - (titleId * 10) - 1)];

    /// <summary>
    /// Probability that showing image <paramref name="imageId"/> of a title leads to a quality play, in the world's
    /// current state (<see cref="NowMs"/>, fatigue), for the pair's own interacted-before flag and no page effect.
    /// </summary>
    public double QualityProbability(int m, uint titleId, uint imageId) =>
        QualityProbability(m, titleId, imageId, Interacted(m, titleId), 0);

    /// <summary>Probability that showing the image starts a play at all.</summary>
    public double StartProbability(int m, uint titleId, uint imageId) =>
        StartProbability(m, titleId, imageId, Interacted(m, titleId), 0);

    /// <summary>Probability of a play start for the interacted flag and <paramref name="repeats"/> same-themed titles on the page.</summary>
    public double StartProbability(int m, uint titleId, uint imageId, bool interacted, int repeats)
    {
        var q = QualityProbability(m, titleId, imageId, interacted, repeats);
        return Theme(titleId, imageId) < 0 ? Math.Max(ClickbaitStart, q) : Math.Min(1, q / QualityShareOfStarts);
    }

    /// <summary>Mean quality-play probability of showing every image in service with equal probability (the random policy).</summary>
    public double RandomPolicyTake(int m, uint titleId)
    {
        var images = ImagesInService(titleId);
        return images.Average(i => QualityProbability(m, titleId, i.Id));
    }

    /// <summary>The best any policy can do for this member and title (among the images in service).</summary>
    public double OptimalTake(int m, uint titleId)
    {
        var images = ImagesInService(titleId);
        return images.Max(i => QualityProbability(m, titleId, i.Id));
    }

    /// <summary>
    /// Draws what the member does after seeing the image: null (nothing) or a reward record (a quality play: 15-60
    /// minutes; a short play: 1-4 minutes, under 5% of the title).
    /// </summary>
    public RewardRecord? Respond(int m, uint titleId, uint imageId, ulong eventId, long unixMs, Random rng) =>
        Respond(m, titleId, imageId, eventId, unixMs, rng, Interacted(m, titleId), 0);

    /// <summary>As <see cref="Respond(int, uint, uint, ulong, long, Random)"/>, for a flag and a page effect.</summary>
    public RewardRecord? Respond(int m, uint titleId, uint imageId, ulong eventId, long unixMs, Random rng, bool interacted, int repeats)
    {
        var start = StartProbability(m, titleId, imageId, interacted, repeats);
        var u = rng.NextDouble();
        if (u >= start)
        {
            return null;
        }

        var quality = u < QualityProbability(m, titleId, imageId, interacted, repeats);
        return new RewardRecord
        {
            EventId = eventId,
            TimestampMs = unixMs + 60_000 + rng.Next(3_600_000),
            PlayStarted = true,
            MinutesWatched = quality ? (float)(15 + (45 * rng.NextDouble())) : (float)(1 + (3 * rng.NextDouble())),
            FractionCompleted = quality ? (float)(0.3 + (0.7 * rng.NextDouble())) : (float)(0.01 + (0.04 * rng.NextDouble())),
        };
    }
}
