using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EdgeSelector.Client;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Training;
using EdgeSelector.Protocol;
using Xunit.Abstractions;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// The whole learning loop over real loopback sockets: catalog bundle pushed, profiles imported, ε-greedy serving
/// logs impressions, simulated members play (quality and short plays), rewards go in over REWARD, edgesel train
/// joins and fits from the server's own logs, edgesel push deploys, and fresh traffic's take fraction is measured.
/// </summary>
public sealed class LearningLoopTests(ITestOutputHelper output)
{
    private const int TrainingMembers = 2_000;
    private const int EvaluationMembers = 1_000;

    [Fact]
    public async Task Loop_ExploreLogJoinTrainPush_TakeFractionRisesClearlyAboveRandom()
    {
        var clock = Stopwatch.StartNew();
        var world = new LoopWorld(titles: 12, members: TrainingMembers + (2 * EvaluationMembers), seed: 3);
        using var ws = new Cli.Workspace();
        await using var server = await LiveServer.StartAsync(demo: false, extra: ["--EdgeSelector:Policy=EpsilonGreedy", "--EdgeSelector:Epsilon=0.2"]);
        var url = $"http://127.0.0.1:{server.AdminPort}";

        // Catalog -> bundle 1 -> pushed; profiles imported in batches.
        var catalogPath = ws.File_("catalog.json");
        File.WriteAllText(catalogPath, JsonSerializer.Serialize(world.Catalog, CatalogJsonContext.Default.CatalogDocument));
        Ok(Cli.Run("bundle", "--catalog", catalogPath, "--models", ws.Models, "--key-file", ws.KeyFile));
        Ok(Cli.Run("push", "--models", ws.Models, "--server", url, "--token-file", ws.TokenFile));
        var profilesPath = ws.File_("profiles.jsonl");
        WriteProfiles(world, profilesPath);
        Ok(Cli.Run("profiles", "import", profilesPath, "--server", url, "--token-file", ws.TokenFile, "--batch", "700"));

        await using var client = server.Client(connections: 2);
        var titles = world.TitleIds.Select(t => new TitleCandidate(t, 0.5f, false)).ToArray();
        // Before and after are measured on two disjoint sets of members nobody trained on (the "before" pages are
        // logged too, and become training data).
        var fresh = Enumerable.Range(TrainingMembers + EvaluationMembers, EvaluationMembers).ToArray();
        var random = fresh.Average(m => titles.Average(t => world.RandomPolicyTake(m, t.TitleId)));
        var before = await MeasureTake(client, world, titles, TrainingMembers);

        // Explore: every training member sees a page of every title, three times (fresh event ids each time).
        var rng = new Random(5);
        var rewards = new List<RewardRequest>();
        var results = new SelectResult[titles.Length];
        long impressions = 0;
        for (var round = 0; round < 3; round++)
        {
            for (var m = 0; m < TrainingMembers; m++)
            {
                Assert.Equal(titles.Length, await client.SelectPageAsync(Request(world, m), titles, results));
                foreach (var r in results)
                {
                    Assert.Equal(FallbackReason.None, r.Reason);
                    impressions++;
                    if (world.Respond(m, r.TitleId, r.ImageId, r.EventId, 0, rng) is { } reward)
                    {
                        rewards.Add(new RewardRequest(r.EventId, reward.PlayStarted, reward.MinutesWatched, reward.FractionCompleted));
                    }
                }
            }
        }

        var statuses = await Task.WhenAll(rewards.Select(r => client.RewardAsync(r)));
        Assert.All(statuses, s => Assert.Equal(RewardStatus.Accepted, s));
        Assert.Equal(RewardStatus.Duplicate, await client.RewardAsync(rewards[0]));
        server.Node.Stores.Impressions!.Commit();
        server.Node.Stores.Rewards.Commit();

        // Train from the server's own logs (read-only, server still running); all windows closed "tomorrow".
        var asOf = DateTimeOffset.UtcNow.AddHours(25).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var train = Cli.Run("train", "--data-dir", server.DataDir, "--models", ws.Models, "--key-file", ws.KeyFile, "--as-of", asOf, "--json");
        Ok(train);
        using (var report = JsonDocument.Parse(train.Out))
        {
            Assert.Equal(impressions + (EvaluationMembers * titles.Length), report.RootElement.GetProperty("examples").GetInt64());
            Assert.Equal(rewards.Count, report.RootElement.GetProperty("join").GetProperty("rewards").GetInt64());
        }

        Ok(Cli.Run("push", "--models", ws.Models, "--server", url, "--token-file", ws.TokenFile));
        var models = await server.Http.GetFromJsonAsync<JsonElement>("/v1/models");
        // The trained bundle (versions are the UTC clock or newest + 1: docs/cli.md) is the one served now.
        Assert.Equal(new BundleRepository(ws.Models).LatestVersion(), models.GetProperty("activeVersion").GetUInt64());

        var after = await MeasureTake(client, world, titles, TrainingMembers + EvaluationMembers);
        var optimal = fresh.Average(m => titles.Average(t => world.OptimalTake(m, t.TitleId)));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"impressions {impressions}, rewards {rewards.Count}; take: random {random:F4}, catalog bundle {before:F4}, trained {after:F4}, optimal {optimal:F4}; {clock.Elapsed.TotalSeconds:F1} s"));

        // The simulator makes these certain: the trained ε-greedy policy (ε = 0.2) sits near
        // 0.8 · optimal + 0.2 · random ≈ 0.17 against random ≈ 0.08; expected takes over 12,000 (member, title) pairs.
        Assert.True(after > random + 0.06, $"trained {after} vs random {random}");
        Assert.True(after > before + 0.01, $"trained {after} vs catalog-only {before}");
    }

    private static void Ok((int Exit, string Out, string Err) run) =>
        Assert.True(run.Exit == 0, $"exit {run.Exit}\n{run.Out}\n{run.Err}");

    // Expected take fraction (true quality-play probability of the served image) over fresh members' pages.
    private static async Task<double> MeasureTake(EdgeSelectorClient client, LoopWorld world, TitleCandidate[] titles, int firstMember)
    {
        var results = new SelectResult[titles.Length];
        double sum = 0;
        long n = 0;
        for (var m = firstMember; m < firstMember + EvaluationMembers; m++)
        {
            await client.SelectPageAsync(Request(world, m), titles, results);
            foreach (var r in results)
            {
                Assert.Equal(FallbackReason.None, r.Reason);
                sum += world.QualityProbability(m, r.TitleId, r.ImageId);
                n++;
            }
        }

        return sum / n;
    }

    private static RequestContext Request(LoopWorld world, int m) => new()
    {
        MemberId = LoopWorld.MemberId(m),
        Country = world.Country(m),
        Language = CountryCode.Pack("EN"),
        Device = world.Device(m),
        HourOfDay = 21,
        DayOfWeek = 5,
    };

    private static void WriteProfiles(LoopWorld world, string path)
    {
        var sb = new StringBuilder();
        string[] devices = ["unknown", "tv", "phone", "tablet", "web", "console"];
        for (var m = 0; m < world.MemberCount; m++)
        {
            var genres = new StringBuilder();
            var a = world.Affinity(m);
            for (var g = 0; g < a.Length; g++)
            {
                if (a[g] > 0)
                {
                    genres.Append(CultureInfo.InvariantCulture, $"{(genres.Length > 0 ? "," : "")}\"{Genres.Names[g]}\":{a[g].ToString("R", CultureInfo.InvariantCulture)}");
                }
            }

            sb.Append(CultureInfo.InvariantCulture,
                $"{{\"memberId\":{LoopWorld.MemberId(m)},\"country\":\"{CountryCode.Unpack(world.Country(m))}\",\"language\":\"EN\",\"device\":\"{devices[(int)world.Device(m)]}\",\"genres\":{{{genres}}}}}\n");
        }

        File.WriteAllText(path, sb.ToString());
    }
}

/// <summary>edgesel train across runs on a live node's logs: positions, pending windows, nothing read twice.</summary>
public sealed class TrainAcrossRunsTests
{
    [Fact]
    public async Task Train_TwiceWhileTheNodeServes_OpenWindowsWaitThenCloseAndNothingIsReadTwice()
    {
        var world = new LoopWorld(titles: 4, members: 300, seed: 9);
        using var ws = new Cli.Workspace();
        await using var server = await LiveServer.StartAsync(demo: false);
        var url = $"http://127.0.0.1:{server.AdminPort}";
        var catalogPath = ws.File_("catalog.json");
        File.WriteAllText(catalogPath, JsonSerializer.Serialize(world.Catalog, CatalogJsonContext.Default.CatalogDocument));
        Ok(Cli.Run("bundle", "--catalog", catalogPath, "--models", ws.Models, "--key-file", ws.KeyFile));
        Ok(Cli.Run("push", "--models", ws.Models, "--server", url, "--token-file", ws.TokenFile));
        await using var client = server.Client();
        var titles = world.TitleIds.Select(t => new TitleCandidate(t, 0.5f, false)).ToArray();
        var results = new SelectResult[titles.Length];
        var events = new List<ulong>();
        for (var m = 0; m < 100; m++)
        {
            await client.SelectPageAsync(new RequestContext { MemberId = LoopWorld.MemberId(m), Genres = default }, titles, results);
            events.AddRange(results.Select(r => r.EventId));
        }

        // First half of the rewards, then a run while every window is still open: nothing to label yet.
        foreach (var id in events.Take(100))
        {
            Assert.Equal(RewardStatus.Accepted, await client.RewardAsync(new RewardRequest(id, true, 30, 0.5f)));
        }

        server.Node.Stores.Impressions!.Commit();
        server.Node.Stores.Rewards.Commit();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var first = Cli.Run("train", "--data-dir", server.DataDir, "--models", ws.Models, "--key-file", ws.KeyFile, "--as-of", now.ToString(CultureInfo.InvariantCulture), "--json");
        Ok(first);
        Assert.Contains("no bundle written", first.Err);
        var catalogVersion = new BundleRepository(ws.Models).LatestVersion();

        // The rest of the rewards arrive later; the next run closes every window.
        foreach (var id in events.Skip(100).Take(50))
        {
            Assert.Equal(RewardStatus.Accepted, await client.RewardAsync(new RewardRequest(id, true, 1, 0.01f)));
        }

        server.Node.Stores.Rewards.Commit();
        var later = DateTimeOffset.UtcNow.AddHours(25).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var second = Cli.Run("train", "--data-dir", server.DataDir, "--models", ws.Models, "--key-file", ws.KeyFile, "--as-of", later, "--json");
        Ok(second);
        using (var report = JsonDocument.Parse(second.Out))
        {
            Assert.Equal(events.Count, report.RootElement.GetProperty("examples").GetInt64());
            Assert.Equal(100, report.RootElement.GetProperty("positives").GetInt64()); // the 50 short plays are negatives
            Assert.Equal(50, report.RootElement.GetProperty("join").GetProperty("shortPlays").GetInt64());
        }

        var trainedVersion = new BundleRepository(ws.Models).LatestVersion();
        Assert.True(trainedVersion > catalogVersion, $"trained {trainedVersion}, catalog {catalogVersion}");
        var (manifest, _) = BundleRepository.Read(new BundleRepository(ws.Models).PathOf(trainedVersion), Encoding.UTF8.GetBytes(LiveServer.BundleKey));
        Assert.Equal(catalogVersion, manifest.ParentVersion);
        Assert.True(manifest.TrainingFromMs > 0 && manifest.TrainingToMs >= manifest.TrainingFromMs);
        Assert.Contains("\"examples\"", manifest.MetricsJson);

        // A third run finds nothing new: every record was consumed exactly once.
        var third = Cli.Run("train", "--data-dir", server.DataDir, "--models", ws.Models, "--key-file", ws.KeyFile, "--as-of", later, "--json");
        Ok(third);
        using (var report = JsonDocument.Parse(third.Out))
        {
            Assert.Equal(0, report.RootElement.GetProperty("examples").GetInt64());
        }

        Assert.Equal(trainedVersion, new BundleRepository(ws.Models).LatestVersion());
    }

    private static void Ok((int Exit, string Out, string Err) run) =>
        Assert.True(run.Exit == 0, $"exit {run.Exit}\n{run.Out}\n{run.Err}");
}
