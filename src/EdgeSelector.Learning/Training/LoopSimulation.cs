using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Join;

namespace EdgeSelector.Learning.Training;

/// <summary>One point of a learning curve.</summary>
/// <param name="Impressions">Impressions logged so far.</param>
/// <param name="GreedyTake">Expected take fraction of the greedy policy of the current models on fresh traffic.</param>
/// <param name="RandomTake">Expected take fraction of the uniformly random policy on the same traffic.</param>
/// <param name="OptimalTake">Expected take fraction of the best image for every request.</param>
/// <param name="ServedTake">Expected take fraction of what the exploring policy actually served in the last retrain interval.</param>
public readonly record struct LearningPoint(long Impressions, double GreedyTake, double RandomTake, double OptimalTake, double ServedTake = 0)
{
    /// <summary>Pages only: share of the greedy policy's pages with at least one quality play (expected).</summary>
    public double PageTake { get; init; }

    /// <summary>Pages only: the same for the pages actually served in the last retrain interval.</summary>
    public double ServedPageTake { get; init; }

    /// <summary>Requests for titles the member has interacted with.</summary>
    public SegmentTake Interacted { get; init; }

    /// <summary>Requests for titles the member has not interacted with.</summary>
    public SegmentTake NotInteracted { get; init; }

    /// <summary>Share of the best possible lift over random that the greedy policy reaches.</summary>
    public double LiftShare => OptimalTake > RandomTake ? (GreedyTake - RandomTake) / (OptimalTake - RandomTake) : double.NaN;
}

/// <summary>
/// The whole loop in one process, without sockets, on a <see cref="LoopWorld"/>: serve with the real
/// <see cref="SelectionEngine"/> over the serialized (int8) models (single titles, or pages under the page policy),
/// log impression records, respond, join, retrain every <see cref="LoopRunOptions.RetrainEvery"/> impressions (warm
/// start, forgetting by simulated time), add images when told, and measure the greedy policy on fresh traffic. What
/// produced the tables in docs/learning.md.
/// </summary>
public static class LoopSimulation
{
    /// <summary>Runs the loop; returns a point after every retrain listed in <paramref name="checkpoints"/>.</summary>
    public static List<LearningPoint> Run(
        LoopWorld world, long impressions, long retrainEvery, IReadOnlyCollection<long> checkpoints, int seed,
        TrainerOptions? options = null, PolicyKind policy = PolicyKind.EpsilonGreedy, float epsilon = 0.1f, int evaluationRequests = 20_000) =>
        [.. Run(world, new LoopRunOptions
        {
            Impressions = impressions,
            RetrainEvery = retrainEvery,
            Checkpoints = checkpoints,
            Seed = seed,
            Trainer = options ?? new TrainerOptions(),
            Policy = policy,
            Epsilon = epsilon,
            EvaluationRequests = evaluationRequests,
        }).Points];

    /// <summary>Runs the loop as <paramref name="run"/> says.</summary>
    public static LoopRunResult Run(LoopWorld world, LoopRunOptions run)
    {
        var rng = new Random(run.Seed);
        var space = new FeatureSpace(64, FeatureSpace.Default.HashSeed, run.Schema);
        ulong version = 1;
        var models = CatalogModelBuilder.Build(world.Catalog, version, space).ToDictionary(m => m.TitleId);
        var blobs = Serialize(models);
        var cross = new CrossTitleModel();
        var embeddings = run.Embeddings ? world.Embeddings : null;
        var engine = new SelectionEngine(new SelectionOptions { Policy = run.Policy, Epsilon = run.Epsilon, Seed = (ulong)run.Seed });
        var joiner = new RewardJoiner();
        var titles = world.TitleIds.ToArray();
        var points = new List<LearningPoint>();
        var msPerImpression = 3_600_000 / run.ImpressionsPerHour;
        var page = new Decided[Math.Max(1, run.PageSize)];
        var newImages = new NewImageTracker(run.NewImageFirstImpressions);
        LearningPoint? atIntroduction = null;
        long priorDataToMs = 0;
        ulong eventId = 1;
        double served = 0, servedPages = 0;
        long servedCount = 0, servedPageCount = 0, n = 0, nextRetrain = run.RetrainEvery;
        while (n < run.Impressions)
        {
            var unixMs = LoopWorld.StartMs + (long)(n * msPerImpression);
            world.NowMs = unixMs;
            if (run.NewImagesAt > 0 && n >= run.NewImagesAt && !world.NewImagesInService)
            {
                // A catalog change: new images start cold plus the cross-title fold (of their embedding, if any).
                world.NewImagesInService = true;
                version++;
                var merged = CatalogModelBuilder.Build(world.CatalogWithNewImages, version, space, models);
                Trainer.FoldIntoNewImages(merged, models, cross, embeddings);
                models = merged.ToDictionary(m => m.TitleId);
                blobs = Serialize(models);
                atIntroduction = Evaluate(world, blobs, n, run, run.Seed + 3);
            }

            var m = rng.Next(world.MemberCount);
            var member = world.Member(m, (byte)rng.Next(24), (byte)rng.Next(7));
            var size = PickTitles(world, titles, page, rng);
            var pageState = new PageState(run.PagePenalty);
            for (var k = 0; k < size; k++)
            {
                var titleId = page[k].TitleId;
                var title = new TitleContext { TitleId = titleId, RecommenderScore = (float)rng.NextDouble(), Interacted = world.Interacted(m, titleId) };
                if (!ModelView.TryOpen(blobs[titleId], ModelCheck.Structure, out var view, out _))
                {
                    throw new InvalidOperationException($"model of title {titleId} does not open");
                }

                var decision = engine.Select(view, member, title, unixMs, default, ref pageState);
                joiner.AddImpression(ImpressionRecord.FromDecision(eventId, unixMs, decision, view.ImageCount, member, title));
                page[k] = new Decided(titleId, decision.ImageId, eventId++, title.Interacted, world.Theme(titleId, decision.ImageId));
                world.Shown(titleId, decision.ImageId);
            }

            var none = 1.0;
            for (var k = 0; k < size; k++)
            {
                var d = page[k];
                var repeats = Repeats(page, size, k);
                var p = world.QualityProbability(m, d.TitleId, d.ImageId, d.Interacted, repeats);
                served += p;
                none *= 1 - p;
                if (world.IsNewImage(d.TitleId, d.ImageId))
                {
                    newImages.Add(d.ImageId, p, world.OptimalTake(m, d.TitleId));
                }

                if (world.Respond(m, d.TitleId, d.ImageId, d.EventId, unixMs, rng, d.Interacted, repeats) is { } reward)
                {
                    joiner.AddReward(reward);
                }
            }

            servedCount += size;
            servedPages += 1 - none;
            servedPageCount++;
            n += size;
            if (n >= nextRetrain || n >= run.Impressions)
            {
                nextRetrain += run.RetrainEvery;
                var examples = joiner.Close(long.MaxValue);
                version++;
                var (trained, report) = Trainer.Train(models, examples, cross, version, run.Trainer with { PriorDataToMs = priorDataToMs }, embeddings);
                priorDataToMs = report.ToMs > 0 ? report.ToMs : priorDataToMs;
                models = trained.ToDictionary(t => t.TitleId);
                blobs = Serialize(models);
                if (run.Checkpoints.Contains(n) || (run.EvaluateEveryRetrainFrom > 0 && n >= run.EvaluateEveryRetrainFrom))
                {
                    points.Add(Evaluate(world, blobs, n, run, run.Seed + 1) with
                    {
                        ServedTake = served / Math.Max(1, servedCount),
                        ServedPageTake = servedPages / Math.Max(1, servedPageCount),
                    });
                }

                served = servedPages = 0;
                servedCount = servedPageCount = 0;
            }
        }

        var report2 = atIntroduction is { } intro ? newImages.Report(intro) : null;
        return new LoopRunResult(points, report2);
    }

    /// <summary>Expected take fraction of the greedy policy of <paramref name="blobs"/> on fresh requests.</summary>
    public static LearningPoint Evaluate(LoopWorld world, IReadOnlyDictionary<uint, byte[]> blobs, long impressions, int requests, int seed) =>
        Evaluate(world, blobs, impressions, new LoopRunOptions { EvaluationRequests = requests }, seed);

    private static LearningPoint Evaluate(LoopWorld world, IReadOnlyDictionary<uint, byte[]> blobs, long impressions, LoopRunOptions run, int seed)
    {
        var rng = new Random(seed);
        var greedy = new SelectionEngine(new SelectionOptions { Policy = PolicyKind.Greedy });
        var titles = world.TitleIds.ToArray();
        var page = new Decided[Math.Max(1, run.PageSize)];
        var interacted = new SegmentSum();
        var notInteracted = new SegmentSum();
        double pageTake = 0;
        for (var r = 0; r < run.EvaluationRequests; r++)
        {
            var m = rng.Next(world.MemberCount);
            var member = world.Member(m, (byte)rng.Next(24), (byte)rng.Next(7));
            var size = PickTitles(world, titles, page, rng);
            var pageState = new PageState(run.PagePenalty);
            for (var k = 0; k < size; k++)
            {
                var titleId = page[k].TitleId;
                var title = new TitleContext { TitleId = titleId, RecommenderScore = (float)rng.NextDouble(), Interacted = world.Interacted(m, titleId) };
                ModelView.TryOpen(blobs[titleId], ModelCheck.Structure, out var view, out _);
                var decision = greedy.Select(view, member, title, 0, default, ref pageState);
                page[k] = new Decided(titleId, decision.ImageId, 0, title.Interacted, world.Theme(titleId, decision.ImageId));
            }

            var none = 1.0;
            for (var k = 0; k < size; k++)
            {
                var d = page[k];
                var p = world.QualityProbability(m, d.TitleId, d.ImageId, d.Interacted, Repeats(page, size, k));
                none *= 1 - p;
                (d.Interacted ? interacted : notInteracted).Add(p, world.RandomPolicyTake(m, d.TitleId), world.OptimalTake(m, d.TitleId));
            }

            pageTake += 1 - none;
        }

        var all = interacted.Plus(notInteracted).Take();
        return new LearningPoint(impressions, all.Greedy, all.Random, all.Optimal)
        {
            PageTake = pageTake / run.EvaluationRequests,
            Interacted = interacted.Take(),
            NotInteracted = notInteracted.Take(),
        };
    }

    // One request's titles: a single title, or a page of distinct launched titles, drawn uniformly.
    private static int PickTitles(LoopWorld world, uint[] titles, Decided[] page, Random rng)
    {
        var size = 0;
        var attempts = 0;
        while (size < page.Length && attempts++ < 1000)
        {
            var titleId = titles[rng.Next(titles.Length)];
            var taken = false;
            for (var j = 0; j < size; j++)
            {
                taken |= page[j].TitleId == titleId;
            }

            if (taken || !world.IsLaunched(titleId))
            {
                continue;
            }

            page[size++] = new Decided(titleId, 0, 0, false, 0);
        }

        return size > 0 ? size : throw new InvalidOperationException("no title has launched yet");
    }

    // Other titles of the page that show an image of the same theme (the world's page effect).
    private static int Repeats(Decided[] page, int size, int k)
    {
        var repeats = 0;
        for (var j = 0; j < size; j++)
        {
            repeats += j != k && page[j].Theme == page[k].Theme ? 1 : 0;
        }

        return repeats;
    }

    private static Dictionary<uint, byte[]> Serialize(Dictionary<uint, TitleModel> models) =>
        models.ToDictionary(kv => kv.Key, kv => kv.Value.Serialize(ModelDefaults.ServingPrecision));

    private readonly record struct Decided(uint TitleId, uint ImageId, ulong EventId, bool Interacted, int Theme);

    private sealed class SegmentSum
    {
        public double Greedy;
        public double Random;
        public double Optimal;
        public int Count;

        public void Add(double greedy, double random, double optimal)
        {
            Greedy += greedy;
            Random += random;
            Optimal += optimal;
            Count++;
        }

        public SegmentSum Plus(SegmentSum other) => new()
        {
            Greedy = Greedy + other.Greedy,
            Random = Random + other.Random,
            Optimal = Optimal + other.Optimal,
            Count = Count + other.Count,
        };

        public SegmentTake Take() => Count == 0
            ? new SegmentTake(double.NaN, double.NaN, double.NaN, 0)
            : new SegmentTake(Greedy / Count, Random / Count, Optimal / Count, Count);
    }

    private sealed class NewImageTracker(int first)
    {
        private readonly Dictionary<uint, int> _seen = [];
        private double _take;
        private double _best;
        private long _count;

        public void Add(uint imageId, double take, double best)
        {
            var seen = _seen.GetValueOrDefault(imageId);
            if (seen >= first)
            {
                return;
            }

            _seen[imageId] = seen + 1;
            _take += take;
            _best += best;
            _count++;
        }

        public NewImageReport Report(LearningPoint atIntroduction) =>
            new(_seen.Count, _count, _count == 0 ? double.NaN : _take / _count, _count == 0 ? double.NaN : _best / _count, atIntroduction);
    }
}
