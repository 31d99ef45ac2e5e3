using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Scoring;
using EdgeSelector.Core.Selection;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Join;
using EdgeSelector.Learning.Training;
using Xunit;

namespace EdgeSelector.Learning.Tests.Training;

public sealed class TrainerTests
{
    [Fact]
    public void Regression_TwoParameters_MatchesTheClosedFormPosterior()
    {
        // Prior N(m0, diag(v0)), noise s2; rows z1 = (1, 2), z2 = (3, -1), y = (0.5, 1.5).
        double[] m0 = [0.1, -0.2], v0 = [0.5, 2.0];
        const double S2 = 0.25;
        var r = new DiagonalBayesianRegression(2);
        r.Add([0, 1], [1.0, 2.0], 0.5);
        r.Add([0, 1], [3.0, -1.0], 1.5);
        var mean = new double[2];
        var variance = new double[2];
        r.Solve(m0, v0, S2, mean, variance);

        // A = diag(1/v0) + ZᵀZ/s2 ; b = diag(1/v0)·m0 + Zᵀy/s2 ; mean = A⁻¹b ; variance = diag(A⁻¹).
        double a11 = 2 + (10 / S2), a12 = (2 - 3) / S2, a22 = 0.5 + (5 / S2);
        double b1 = (2 * 0.1) + ((0.5 + 4.5) / S2), b2 = (0.5 * -0.2) + ((1.0 - 1.5) / S2);
        var det = (a11 * a22) - (a12 * a12);
        Assert.Equal(((a22 * b1) - (a12 * b2)) / det, mean[0], 12);
        Assert.Equal(((a11 * b2) - (a12 * b1)) / det, mean[1], 12);
        Assert.Equal(a22 / det, variance[0], 12);
        Assert.Equal(a11 / det, variance[1], 12);
    }

    [Fact]
    public void Regression_OneParameter_WarmStartInTwoHalvesEqualsOneBatch()
    {
        var rng = new Random(1);
        var ys = Enumerable.Range(0, 200).Select(_ => rng.NextDouble() < 0.3 ? 1.0 : 0.0).ToArray();
        var all = new DiagonalBayesianRegression(1);
        var first = new DiagonalBayesianRegression(1);
        var second = new DiagonalBayesianRegression(1);
        for (var i = 0; i < ys.Length; i++)
        {
            all.Add([0], [1.0], ys[i]);
            (i < 100 ? first : second).Add([0], [1.0], ys[i]);
        }

        double[] batchMean = new double[1], batchVar = new double[1], m = new double[1], v = new double[1], m2 = new double[1], v2 = new double[1];
        all.Solve([0.05], [0.01], 0.2, batchMean, batchVar);
        first.Solve([0.05], [0.01], 0.2, m, v);
        second.Solve(m, v, 0.2, m2, v2);
        Assert.Equal(batchMean[0], m2[0], 12);
        Assert.Equal(batchVar[0], v2[0], 12);
    }

    [Fact]
    public void QualityRule_ClickbaitWithManyShortPlays_LosesToFewerLongerPlays_ButWinsWhenEveryPlayCounts()
    {
        var world = new LoopWorld(titles: 6, members: 3_000, seed: 2);
        var (impressions, rewards) = UniformLog(world, 60_000, seed: 4);
        var quality = TrainWith(world, impressions, rewards, new QualityPlayRule());
        var anyPlay = TrainWith(world, impressions, rewards, new QualityPlayRule { MinMinutes = 0, MinFraction = 0 });

        foreach (var title in world.Catalog.Titles)
        {
            var clickbait = title.Images.FindIndex(i => i.Tags.Contains(LoopWorld.ClickbaitTag));
            var themed = title.Images.FindIndex(i => !i.Tags.Contains(LoopWorld.ClickbaitTag));
            var genre = Genres.IndexOf(title.Images[themed].Tags[0]);
            var starts = impressions.Where(r => r.TitleId == title.Id).GroupBy(r => r.ChosenIndex)
                .ToDictionary(g => (int)g.Key, g => g.Count(r => rewards.ContainsKey(r.EventId)));
            Assert.True(starts[clickbait] > 1.5 * starts[themed], $"title {title.Id}: the click-bait image starts many more plays");

            // Members who love the themed image's genre: the quality rule prefers it...
            var fans = Enumerable.Range(0, world.MemberCount).Where(m => world.Affinity(m)[genre] >= 0.7f).Take(200).ToArray();
            var (ft, fc) = (MeanScore(quality[title.Id], world, fans, themed), MeanScore(quality[title.Id], world, fans, clickbait));
            Assert.True(ft > fc + 0.1, $"title {title.Id}, fans: themed {ft} click-bait {fc}");

            // ... while counting every started play would reward the click-bait image for the average member.
            var everyone = Enumerable.Range(0, 500).ToArray();
            Assert.True(MeanScore(anyPlay[title.Id], world, everyone, clickbait) > MeanScore(anyPlay[title.Id], world, everyone, themed));
            var (qc, qt) = (MeanScore(quality[title.Id], world, everyone, clickbait), MeanScore(quality[title.Id], world, everyone, themed));
            var truth = (everyone.Average(m => world.QualityProbability(m, title.Id, title.Images[clickbait].Id)), everyone.Average(m => world.QualityProbability(m, title.Id, title.Images[themed].Id)));
            Assert.True(qc < qt, $"title {title.Id}: click-bait {qc} themed {qt}; truth {truth}");
        }
    }

    [Fact]
    public void CrossTitle_LearnsThemeTimesAffinity_AndAnImageWithoutDataGetsIt()
    {
        var world = new LoopWorld(titles: 8, members: 3_000, seed: 5);
        var (impressions, rewards) = UniformLog(world, 40_000, seed: 6);
        var cross = new CrossTitleModel();
        var current = CatalogModelBuilder.Build(world.Catalog, 1, FeatureSpace.Default).ToDictionary(m => m.TitleId);

        // A new image with no data at all: tagged "comedy", added to the first title.
        var target = current.Values.First();
        target.AddColdImage(999_999, ColdStartPrior.Default, "comedy");
        var examples = Join(impressions, rewards, new QualityPlayRule());
        var (models, report) = Trainer.Train(current, examples, cross, 2);

        var comedy = Genres.IndexOf("comedy");
        var t = cross.IndexOf("comedy");
        Assert.InRange(cross.Mean[(t * CrossTitleModel.PerTag) + 1 + comedy], 0.15, 0.45); // truth: 0.30
        Assert.True(report.CrossTitleTags >= LoopWorld.GenresInPlay);
        var image = models.First(m => m.TitleId == target.TitleId).Images.Single(i => i.Id == 999_999);
        Assert.True(image.Cold);
        Assert.True(image.Weights[FeatureEncoder.GenreSlot + comedy] > 0.15f, "the new image carries the folded comedy preference");
    }

    [Fact]
    public void CrossTitle_ALargeTagVocabulary_IsCappedToTheMostFrequentTags()
    {
        var world = new LoopWorld(titles: 8, members: 1_000, seed: 5);
        var (impressions, rewards) = UniformLog(world, 5_000, seed: 6);
        var current = CatalogModelBuilder.Build(world.Catalog, 1, FeatureSpace.Default).ToDictionary(m => m.TitleId);
        foreach (var image in current.Values.SelectMany(m => m.Images))
        {
            image.Tags = [.. image.Tags, $"cast:{image.Id}"]; // one tag per image: 32 more tags
        }

        var cross = new CrossTitleModel();
        var (models, report) = Trainer.Train(current, Join(impressions, rewards, new QualityPlayRule()), cross, 2, new TrainerOptions { MaxCrossTitleTags = 10 });

        Assert.Equal(10, cross.Tags.Count);
        Assert.Equal(10, report.CrossTitleTags);
        Assert.Contains(LoopWorld.ClickbaitTag, cross.Tags); // on a quarter of all impressions: among the most frequent
        Assert.Equal(current.Count, models.Count);
    }

    [Fact]
    public void Train_KeepsTheServingScale_ScoresAreTakeProbabilities()
    {
        var world = new LoopWorld(titles: 4, members: 2_000, seed: 8);
        var (impressions, rewards) = UniformLog(world, 40_000, seed: 9);
        var models = TrainWith(world, impressions, rewards, new QualityPlayRule());
        foreach (var title in world.Catalog.Titles)
        {
            for (var i = 0; i < title.Images.Count; i++)
            {
                var members = Enumerable.Range(0, 300).ToArray();
                var predicted = MeanScore(models[title.Id], world, members, i);
                var truth = members.Average(m => world.QualityProbability(m, title.Id, title.Images[i].Id));
                Assert.InRange(predicted, truth - 0.03, truth + 0.03);
            }
        }
    }

    internal static (List<ImpressionRecord> Impressions, Dictionary<ulong, RewardRecord> Rewards) UniformLog(LoopWorld world, int n, int seed)
    {
        var rng = new Random(seed);
        var titles = world.Catalog.Titles;
        var impressions = new List<ImpressionRecord>(n);
        var rewards = new Dictionary<ulong, RewardRecord>();
        for (var e = 1; e <= n; e++)
        {
            var m = rng.Next(world.MemberCount);
            var title = titles[rng.Next(titles.Count)];
            var index = rng.Next(title.Images.Count);
            var member = world.Member(m, (byte)rng.Next(24), (byte)rng.Next(7));
            var decision = new Decision { Index = index, ImageId = title.Images[index].Id, Propensity = 1f / title.Images.Count, Policy = Core.Exploration.PolicyKind.Uniform };
            var record = ImpressionRecord.FromDecision((ulong)e, 1_000, decision, title.Images.Count, member, new TitleContext { TitleId = title.Id });
            impressions.Add(record);
            if (world.Respond(m, title.Id, record.ChosenImageId, (ulong)e, 1_000, rng) is { } reward)
            {
                rewards[(ulong)e] = reward;
            }
        }

        return (impressions, rewards);
    }

    private static List<LabeledExample> Join(List<ImpressionRecord> impressions, Dictionary<ulong, RewardRecord> rewards, QualityPlayRule rule)
    {
        var joiner = new RewardJoiner(new RewardJoinOptions { Rule = rule });
        impressions.ForEach(i => joiner.AddImpression(i));
        foreach (var r in rewards.Values)
        {
            joiner.AddReward(r);
        }

        return joiner.Close(long.MaxValue);
    }

    private static Dictionary<uint, TitleModel> TrainWith(LoopWorld world, List<ImpressionRecord> impressions, Dictionary<ulong, RewardRecord> rewards, QualityPlayRule rule)
    {
        var current = CatalogModelBuilder.Build(world.Catalog, 1, FeatureSpace.Default).ToDictionary(m => m.TitleId);
        var (models, _) = Trainer.Train(current, Join(impressions, rewards, rule), new CrossTitleModel(), 2);
        return models.ToDictionary(m => m.TitleId);
    }

    // Mean served score (int8 blob, the Scorer the server uses) of one image over members.
    private static double MeanScore(TitleModel model, LoopWorld world, int[] members, int image)
    {
        var blob = model.Serialize(ModelDefaults.ServingPrecision);
        Assert.True(ModelView.TryOpen(blob, ModelCheck.Full, out var view, out _));
        var x = new float[view.Dimension];
        var scores = new float[view.PaddedCount];
        double sum = 0;
        foreach (var m in members)
        {
            FeatureEncoder.TryEncode(view.FeatureSpace, world.Member(m), new TitleContext { TitleId = model.TitleId }, x);
            Scorer.Score(view, x, scores);
            sum += scores[image];
        }

        return sum / members.Length;
    }
}
