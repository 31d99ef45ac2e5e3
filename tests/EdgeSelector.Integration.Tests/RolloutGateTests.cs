using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Join;
using EdgeSelector.Learning.Rollout;
using EdgeSelector.Learning.Training;
using EdgeSelector.Protocol;
using Xunit.Abstractions;

namespace EdgeSelector.Integration.Tests;

/// <summary>The offline gate of <c>edgesel train --gate</c> (docs/rollout.md, "Offline gate").</summary>
public sealed class RolloutGateTests(ITestOutputHelper output)
{
    [Fact]
    public void Decide_ClickbaitCandidateAgainstTheCatalog_IsRefused_AndTheReverseIsPublished()
    {
        var world = new LoopWorld(titles: 12, members: 3_000, seed: 31);
        var catalog = Blobs(world, 1, clickbait: false);
        var clickbait = Blobs(world, 2, clickbait: true);
        var examples = UniformLog(world, 30_000, seed: 5);
        var options = new GateOptions();

        var refused = OfflineGate.Decide(catalog, 1, clickbait, 2, examples, 0, options);
        output.WriteLine(refused.Reason);
        Assert.False(refused.Publish);
        Assert.StartsWith("refused: dr:", refused.Reason, StringComparison.Ordinal);
        Assert.All(refused.Estimates, e => Assert.True(e.CandidateHigh < e.IncumbentValue, $"{e.Estimator}: {e}"));

        var published = OfflineGate.Decide(clickbait, 1, catalog, 2, examples, 0, options);
        output.WriteLine(published.Reason);
        Assert.True(published.Publish);
        Assert.StartsWith("published as a candidate:", published.Reason, StringComparison.Ordinal);
        Assert.Equal(["dr", "snips"], published.Estimates.Select(e => e.Estimator));

        // An equal candidate's lower bound sits one interval half-width (~0.007 on 30,000 rows) below the incumbent's
        // value: it passes only with a margin wider than that. The margin is the stated tolerance.
        var equal = Blobs(world, 2, clickbait: false);
        Assert.True(OfflineGate.Decide(catalog, 1, equal, 2, examples, 0, options with { Margin = 0.02 }).Publish);
        var strict = OfflineGate.Decide(catalog, 1, equal, 2, examples, 0, options with { Margin = 0.001 });
        Assert.False(strict.Publish);
        Assert.All(strict.Estimates, e => Assert.Equal(e.IncumbentValue, e.CandidateValue, 9));
        var few = OfflineGate.Decide(catalog, 1, catalog, 2, examples.Take(50).ToList(), 0, options);
        Assert.False(few.Publish);
        Assert.Contains("only 50 held-out rows", few.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TrainGate_OnANodesLogs_PublishesOnlyAsACandidate_OrRefusesWithExit3AndWritesNothing()
    {
        var world = new LoopWorld(titles: 8, members: 1_500, seed: 32);
        using var ws = new Cli.Workspace();
        await using var server = await LiveServer.StartAsync(demo: false, extra: ["--EdgeSelector:Epsilon=0.3", "--EdgeSelector:RewardCommitTimeoutSeconds=20"]);
        var url = $"http://127.0.0.1:{server.AdminPort}";
        var catalogPath = ws.File_("catalog.json");
        File.WriteAllText(catalogPath, JsonSerializer.Serialize(world.Catalog, CatalogJsonContext.Default.CatalogDocument));
        Assert.Equal(0, Cli.Run("bundle", "--catalog", catalogPath, "--models", ws.Models, "--key-file", ws.KeyFile).Exit);
        Assert.Equal(0, Cli.Run("push", "--models", ws.Models, "--server", url, "--token-file", ws.TokenFile).Exit);

        var incumbent = new BundleRepository(ws.Models).LatestVersion(); // edgesel bundle numbers bundles by the time (docs/cli.md)

        // A handful of pages: too few held-out rows, so the gate refuses; nothing is written, exit 3.
        await Serve(server, world, members: 20, rounds: 1);
        var asOf = DateTimeOffset.UtcNow.AddHours(25).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var refused = Cli.Run("train", "--data-dir", server.DataDir, "--models", ws.Models, "--key-file", ws.KeyFile, "--as-of", asOf, "--gate", "--json");
        output.WriteLine(refused.Err);
        Assert.Equal(3, refused.Exit);
        Assert.Contains("not written: refused: only", refused.Err, StringComparison.Ordinal);
        Assert.False(JsonDocument.Parse(refused.Out).RootElement.GetProperty("gate").GetProperty("publish").GetBoolean());
        Assert.Equal(incumbent, new BundleRepository(ws.Models).LatestVersion());

        // Enough exploration: the trained models beat the catalog bundle; written, and pushed as a candidate only.
        await Serve(server, world, members: 1_500, rounds: 2);
        var published = Cli.Run("train", "--data-dir", server.DataDir, "--models", ws.Models, "--key-file", ws.KeyFile, "--as-of", asOf,
            "--gate", "--server", url, "--token-file", ws.TokenFile, "--candidate-fraction", "0.1", "--json");
        output.WriteLine(published.Err);
        Assert.True(published.Exit == 0, published.Err);
        var version = new BundleRepository(ws.Models).LatestVersion();
        Assert.True(version > incumbent);
        var status = await server.Http.GetFromJsonAsync<JsonElement>("/v1/rollout");
        Assert.Equal(version, status.GetProperty("candidate").GetProperty("version").GetUInt64());
        Assert.Equal(0.1, status.GetProperty("candidate").GetProperty("fraction").GetDouble());
        Assert.Equal(incumbent, status.GetProperty("activeVersion").GetUInt64());
    }

    private static async Task Serve(LiveServer server, LoopWorld world, int members, int rounds)
    {
        await using var client = server.Client();
        var titles = world.TitleIds.Select(t => new TitleCandidate(t, 0.5f, false)).ToArray();
        var results = new SelectResult[titles.Length];
        var rng = new Random(3);
        for (var round = 0; round < rounds; round++)
        {
            for (var m = 0; m < members; m++)
            {
                var context = new RequestContext { MemberId = LoopWorld.MemberId(m), Country = world.Country(m), Device = world.Device(m), HourOfDay = 21, DayOfWeek = 5 };
                context.SetGenres(world.Affinity(m));
                await client.SelectPageAsync(context, titles, results);
                var rewards = new List<RewardRequest>();
                foreach (var r in results)
                {
                    if (world.Respond(m, r.TitleId, r.ImageId, r.EventId, 0, rng) is { } reward)
                    {
                        rewards.Add(RewardRequest.For(r, reward.PlayStarted, reward.MinutesWatched, reward.FractionCompleted));
                    }
                }

                await RolloutTests.SendRewards(client, rewards);
            }
        }

        server.Node.Stores.Impressions!.Commit();
        server.Node.Stores.Rewards.Commit();
    }

    private static Dictionary<uint, byte[]> Blobs(LoopWorld world, ulong version, bool clickbait)
    {
        var models = CatalogModelBuilder.Build(world.Catalog, version, FeatureSpace.Default);
        foreach (var image in models.SelectMany(m => m.Images).Where(i => clickbait && i.Tags.Contains(LoopWorld.ClickbaitTag)))
        {
            image.Bias += 0.5f;
        }

        return models.ToDictionary(m => m.TitleId, m => m.Serialize(WeightPrecision.Int8));
    }

    // A uniformly explored log of the world, labelled by its quality plays.
    private static List<LabeledExample> UniformLog(LoopWorld world, int count, int seed)
    {
        var rng = new Random(seed);
        var titles = world.TitleIds.ToArray();
        var catalog = world.Catalog.Titles.ToDictionary(t => t.Id);
        var examples = new List<LabeledExample>(count);
        for (var i = 0; i < count; i++)
        {
            var m = rng.Next(world.MemberCount);
            var title = titles[rng.Next(titles.Length)];
            var images = catalog[title].Images;
            var k = rng.Next(images.Count);
            var member = world.Member(m);
            var record = ImpressionRecord.FromDecision(
                (ulong)i + 1, 0, new Decision { Index = k, ImageId = images[k].Id, Propensity = 1f / images.Count, Policy = Core.Exploration.PolicyKind.Uniform },
                images.Count, member, new TitleContext { TitleId = title, RecommenderScore = 0.5f }, FallbackReason.None);
            var take = rng.NextDouble() < world.QualityProbability(m, title, images[k].Id);
            examples.Add(new LabeledExample(record, take, take));
        }

        return examples;
    }
}
