using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Learning.Training;
using Xunit;
using Xunit.Abstractions;

namespace EdgeSelector.Learning.Tests.Training;

/// <summary>
/// Learning quality of the page policy, image embeddings and the genre × interacted slots on seeded worlds, at stated
/// impression counts (docs/learning.md, section 8; the tables there are the larger runs of the same code).
/// </summary>
public sealed class LoopCapabilityTests(ITestOutputHelper output)
{
    [Fact]
    public void Pages_RepeatedThemesCostHalf_PagePolicyRaisesPageTake_After40000Impressions()
    {
        // Measured: page take 0.334 without the page policy, 0.389 with a penalty of 0.15 per shared tag.
        var (off, on) = (PageRun(0f), PageRun(0.15f));
        output.WriteLine($"page take: off {off.PageTake:F4} on {on.PageTake:F4}; per title off {off.GreedyTake:F4} on {on.GreedyTake:F4}");
        Assert.True(on.PageTake > off.PageTake + 0.03, $"page policy {on.PageTake:F4} vs none {off.PageTake:F4}");
        Assert.True(on.ServedPageTake > off.ServedPageTake + 0.02, $"served: {on.ServedPageTake:F4} vs {off.ServedPageTake:F4}");
    }

    [Fact]
    public void Embeddings_NewUntaggedImages_FirstImpressionsTakeMore_AndGreedyKnowsWhoTheySuit()
    {
        // Measured: the first 50 impressions of each new image take 0.094 without embeddings, 0.178 with (best 0.211);
        // the greedy policy right after they were added: 0.188 without, 0.216 with (best 0.229).
        var without = EmbeddingRun(false);
        var with = EmbeddingRun(true);
        output.WriteLine($"first 50: without {without.Take:F4} with {with.Take:F4} (best {with.BestPossibleTake:F4}); at introduction greedy without {without.AtIntroduction.GreedyTake:F4} with {with.AtIntroduction.GreedyTake:F4} optimal {with.AtIntroduction.OptimalTake:F4}");
        Assert.Equal(16, with.Images);
        Assert.True(with.Take > without.Take + 0.03, $"new images' first impressions: with {with.Take:F4}, without {without.Take:F4}");
        Assert.True(with.AtIntroduction.GreedyTake > without.AtIntroduction.GreedyTake + 0.01,
            $"greedy before any data of the new images: with {with.AtIntroduction.GreedyTake:F4}, without {without.AtIntroduction.GreedyTake:F4}");
    }

    [Fact]
    public void Interaction_Schema2_LearnsTheKeyArtForMembersWhoKnowTheTitle_At50000Impressions()
    {
        // Measured: members who know the title get 0.749 of the possible lift from schema-1 models, 0.889 from schema 2.
        var one = InteractionRun(FeatureSpace.Schema1);
        var two = InteractionRun(FeatureSpace.Schema2);
        output.WriteLine($"interacted lift: schema 1 {one.Interacted.LiftShare:F3} schema 2 {two.Interacted.LiftShare:F3}; not interacted {one.NotInteracted.LiftShare:F3} / {two.NotInteracted.LiftShare:F3}");
        Assert.True(two.Interacted.LiftShare > one.Interacted.LiftShare + 0.08, $"interacted: schema 2 {two.Interacted.LiftShare:F3}, schema 1 {one.Interacted.LiftShare:F3}");
        Assert.True(two.NotInteracted.LiftShare > one.NotInteracted.LiftShare - 0.02, $"not interacted: schema 2 {two.NotInteracted.LiftShare:F3}, schema 1 {one.NotInteracted.LiftShare:F3}");
        Assert.True(two.GreedyTake > one.GreedyTake, $"overall {two.GreedyTake:F4} vs {one.GreedyTake:F4}");
    }

    private static LearningPoint PageRun(float penalty) =>
        LoopSimulation.Run(new LoopWorld(new LoopWorldOptions { Titles = 12, Members = 3_000, Seed = 4, PageRepeatPenalty = 0.5 }), new LoopRunOptions
        {
            Impressions = 40_000,
            RetrainEvery = 8_000,
            PageSize = 4,
            PagePenalty = penalty,
            Seed = 6,
            Checkpoints = [40_000],
            EvaluationRequests = 3_000,
        }).Points[^1];

    private static NewImageReport EmbeddingRun(bool embeddings) =>
        LoopSimulation.Run(new LoopWorld(new LoopWorldOptions { Titles = 8, Members = 3_000, Seed = 4, EmbeddingDimension = 8, NewImagesPerTitle = 2 }), new LoopRunOptions
        {
            Impressions = 40_000,
            RetrainEvery = 8_000,
            Seed = 6,
            Embeddings = embeddings,
            NewImagesAt = 32_000,
            NewImageFirstImpressions = 50,
            EvaluationRequests = 3_000,
        }).NewImages!;

    private static LearningPoint InteractionRun(ushort schema) =>
        LoopSimulation.Run(new LoopWorld(LearningExperiments.InteractionWorld with { Titles = 10, Members = 4_000, Seed = 4 }), new LoopRunOptions
        {
            Impressions = 50_000,
            RetrainEvery = 10_000,
            Seed = 6,
            Schema = schema,
            Checkpoints = [50_000],
            EvaluationRequests = 6_000,
        }).Points[^1];
}
