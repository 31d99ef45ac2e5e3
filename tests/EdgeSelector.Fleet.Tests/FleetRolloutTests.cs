using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using EdgeSelector.Client;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Training;
using EdgeSelector.Protocol;
using Xunit.Abstractions;

namespace EdgeSelector.Fleet.Tests;

/// <summary>
/// Fleet-wide rollout (issue 15, docs/rollout.md "Fleet"): one nats-server, two edge nodes as processes, the simulated
/// world of docs/learning.md sending pages to alternating nodes and each reward to the other node. The candidate is
/// started with <c>edgesel rollout start --nats</c>; <c>edgesel train --nats</c> counts the fleet's impressions and
/// rewards per arm, runs the node's sequential test on them and publishes the decision; both nodes converge. Bounded:
/// at most <see cref="RolloutFleet.MaxRounds"/> rounds of <see cref="RolloutFleet.PagesPerRound"/> pages.
/// </summary>
public sealed class FleetRolloutTests(ITestOutputHelper output)
{
    private const ulong Candidate = RolloutFleet.CandidateVersion;

    [Fact]
    public async Task WorseCandidate_IsRolledBackFleetWide_AndControlMembersNeverSeeIt()
    {
        await using var fleet = await RolloutFleet.StartAsync(output, seed: 41, activeClickbait: false);
        fleet.StartCandidate(clickbait: true, fraction: 0.3);
        var split = new ArmSplit(Candidate, 0.3);

        var run = await fleet.DriveUntilDecidedAsync(split);
        Assert.Equal(0, run.ControlServedCandidate);
        Assert.Contains("decision rollback (published to the fleet)", run.LastTrain, StringComparison.Ordinal);
        Assert.Contains(": worse:", run.LastTrain, StringComparison.Ordinal);
        using (var report = JsonDocument.Parse(fleet.TrainJson()))
        {
            var rollout = report.RootElement.GetProperty("rollout");
            output.WriteLine(rollout.ToString());
            Assert.Equal("rolled_back", rollout.GetProperty("state").GetString());
            Assert.True(rollout.GetProperty("arms")[1].GetProperty("impressions").GetInt64() >= 300);
        }

        // Every node withdrew it, with the fleet's reason, and counted the decision; bundle 1 stays active.
        foreach (var node in fleet.Nodes)
        {
            var decision = await RolloutFleet.LastDecisionAsync(node, "rollback");
            Assert.Equal("fleet", decision.GetProperty("by").GetString());
            Assert.StartsWith("fleet: worse:", decision.GetProperty("reason").GetString(), StringComparison.Ordinal);
            Assert.Equal(1, await node.MetricAsync("edgeselector_rollout_decisions_total{action=\"rollback\"}"));
            Assert.Equal(1, await node.MetricAsync("edgeselector_model_bundle_version{which=\"active\"}"));
        }

        var status = Cli.Ok("rollout", "status", "--nats", fleet.Url).Out;
        output.WriteLine(status);
        Assert.Contains("candidate 2 rolled_back", status, StringComparison.Ordinal);

        // After the rollback nobody, candidate arm included, is served the candidate.
        var after = await fleet.DriveAsync(split, pages: 40, offset: 7_000);
        Assert.Equal(0, after.CandidateServed);
    }

    [Fact]
    public async Task BetterCandidate_IsPromotedFleetWide_AndBecomesActiveOnEveryNode()
    {
        await using var fleet = await RolloutFleet.StartAsync(output, seed: 42, activeClickbait: true);
        fleet.StartCandidate(clickbait: false, fraction: 0.5);
        var split = new ArmSplit(Candidate, 0.5);

        // Bad input to the fleet's candidate slot is refused with the reason, and the running candidate stays.
        fleet.RefusedCandidate(1, 0.5, "not newer than the fleet's active version 1");
        fleet.RefusedCandidate(3, 0.5, "feature schema", new FeatureSpace(64, 0x0BADF00D, FeatureSpace.CurrentSchema));
        fleet.RefusedCandidate(3, 0.5, "BadSignature", key: "another key");

        var run = await fleet.DriveUntilDecidedAsync(split);
        Assert.Equal(0, run.ControlServedCandidate);
        Assert.Contains("decision promote (published to the fleet)", run.LastTrain, StringComparison.Ordinal);

        // Traffic goes on while the nodes promote, as in production (the model store's promotion is a checkpoint,
        // which FASTER completes as the serving sessions move on; bounded: 60 s).
        var converging = System.Diagnostics.Stopwatch.StartNew();
        for (var round = 0; !await fleet.AllActiveAsync(Candidate); round++)
        {
            Assert.True(converging.Elapsed < TimeSpan.FromSeconds(60), "the nodes did not all serve bundle 2 as active within 60 s of the decision");
            await fleet.DriveAsync(split, pages: 10, offset: 5_000 + (round * 10));
        }

        output.WriteLine($"both nodes serve bundle 2 as active {converging.Elapsed.TotalSeconds:F1} s after the decision");
        foreach (var node in fleet.Nodes)
        {
            var decision = await RolloutFleet.LastDecisionAsync(node, "promote");
            Assert.Equal("fleet", decision.GetProperty("by").GetString());
            Assert.Equal(1, await node.MetricAsync("edgeselector_rollout_decisions_total{action=\"promote\"}"));
        }

        // Promoted: every member is served bundle 2 on both nodes.
        var after = await fleet.DriveAsync(split, pages: 20, offset: 7_000);
        Assert.Equal(after.Impressions, after.CandidateServed);
    }

    [Fact]
    public async Task TrainGate_OnTheFleet_RefusesWithExit3_OrStartsTheBundleAsTheFleetCandidate_NeverAsActive()
    {
        await using var fleet = await RolloutFleet.StartAsync(output, seed: 43, activeClickbait: true);
        var noCandidate = new ArmSplit(Candidate, 0);
        var models = new BundleRepository(fleet.ModelsDirectory);

        // Five pages: too few held-out rows to judge on. Refused: no bundle written, nothing started, exit 3.
        await fleet.DriveAsync(noCandidate, pages: 5, offset: 0);
        var refused = await fleet.TrainGateAsync();
        output.WriteLine(refused.Err);
        Assert.Equal(3, refused.Exit);
        Assert.Contains("not written: refused: only", refused.Err, StringComparison.Ordinal);
        Assert.False(JsonDocument.Parse(refused.Out).RootElement.GetProperty("gate").GetProperty("publish").GetBoolean());
        Assert.Equal(1UL, models.LatestVersion());
        Assert.Contains("no candidate was ever tried", Cli.Ok("rollout", "status", "--nats", fleet.Url).Out, StringComparison.Ordinal);

        // Enough pages to judge on (the margin lets any bundle through: the gate's judgement itself is RolloutGateTests').
        // Passed: written and started as the fleet's candidate on 0.2 of members, by the gate; bundle 1 stays active.
        await fleet.DriveAsync(noCandidate, pages: 150, offset: 100);
        var passed = await fleet.TrainGateAsync("--gate-margin", "1", "--candidate-fraction", "0.2");
        output.WriteLine(passed.Err);
        Assert.True(passed.Exit == 0, passed.Err);
        Assert.True(JsonDocument.Parse(passed.Out).RootElement.GetProperty("gate").GetProperty("publish").GetBoolean());
        var version = models.LatestVersion();
        Assert.True(version > 1);
        Assert.Contains($"bundle {version} started as the fleet's candidate on 0.2 of members against active 1", passed.Err, StringComparison.Ordinal);
        var status = Cli.Ok("rollout", "status", "--nats", fleet.Url).Out;
        output.WriteLine(status);
        Assert.Contains($"candidate {version} running", status, StringComparison.Ordinal);
        Assert.Contains("by gate: candidate", status, StringComparison.Ordinal);
        await fleet.AllTryingAsync(version);
        var split = new ArmSplit(version, 0.2);
        var trial = await fleet.DriveAsync(split, pages: 40, offset: 300, candidate: version);
        Assert.Equal(0, trial.ControlServedCandidate);
        Assert.True(trial.CandidateServed > 0, "no page of the candidate arm was served the candidate");
        Assert.True(await fleet.AllActiveAsync(1));

        // While it is tried, a passing run writes its bundle but does not replace the trial.
        await fleet.DriveAsync(split, pages: 150, offset: 400, candidate: version);
        var during = await fleet.TrainGateAsync("--gate-margin", "1", "--no-rollout-decide");
        output.WriteLine(during.Err);
        Assert.True(during.Exit == 0, during.Err);
        Assert.Contains($"is being tried (start it with edgesel rollout start --nats", during.Err, StringComparison.Ordinal);
        Assert.True(models.LatestVersion() > version);
        Assert.Contains($"candidate {version} running", Cli.Ok("rollout", "status", "--nats", fleet.Url).Out, StringComparison.Ordinal);
    }
}

/// <summary>Two nodes on one nats-server, the world's bundles, the traffic and the trainer runs of <see cref="FleetRolloutTests"/>.</summary>
internal sealed class RolloutFleet : IAsyncDisposable
{
    public const int PagesPerRound = 100;
    public const int MaxRounds = 12;
    public const ulong CandidateVersion = 2;

    // The control plane's test, configured as the node-local tests configure theirs (RolloutTests.Settings).
    private static readonly string[] TestSettings = ["--rollout-min-impressions", "300", "--rollout-promote-after", "2000", "--rollout-margin", "0.02"];

    private readonly ITestOutputHelper _output;
    private readonly NatsCluster _nats;
    private readonly string _root;
    private readonly string _keyFile;
    private readonly string _models;
    private readonly LoopWorld _world;

    private RolloutFleet(ITestOutputHelper output, NatsCluster nats, string root, LoopWorld world)
    {
        _output = output;
        _nats = nats;
        _root = root;
        _world = world;
        _keyFile = Path.Combine(root, "bundle.key");
        _models = Path.Combine(root, "models");
    }

    public List<EdgeNode> Nodes { get; } = [];

    /// <summary>The trainer's bundle directory (<c>--models</c>).</summary>
    public string ModelsDirectory => _models;

    public string Url => _nats.Url;

    public static async Task<RolloutFleet> StartAsync(ITestOutputHelper output, int seed, bool activeClickbait)
    {
        var root = Path.Combine(Path.GetTempPath(), "es-fleet-rollout-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var fleet = new RolloutFleet(output, new NatsCluster(1), root, new LoopWorld(titles: 12, members: 4_000, seed: seed));
        File.WriteAllText(fleet._keyFile, EdgeNode.BundleKey);
        Cli.Ok("fleet", "init", "--nats", fleet.Url, "--replicas", "1");

        // Bundle 1 (the active one) goes through the trainer's directory, so edgesel train --nats can start from it.
        var repo = new BundleRepository(fleet._models);
        var manifest = new BundleManifest { Version = 1, CreatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Full = true };
        var active = repo.Write(manifest, fleet.Models(1, activeClickbait, null), Encoding.UTF8.GetBytes(EdgeNode.BundleKey));
        Cli.Ok("push", "--bundle", active, "--nats", fleet.Url);
        foreach (var id in new[] { 1, 2 })
        {
            var node = new EdgeNode(id, fleet.Url, root, "--EdgeSelector:RewardCommitTimeoutSeconds=20", "--EdgeSelector:StoreWriteTimeoutSeconds=60");
            fleet.Nodes.Add(node);
            node.Start();
        }

        foreach (var node in fleet.Nodes)
        {
            await Wait.UntilAsync(async () => await node.GetAsync("/readyz") is { Status: HttpStatusCode.OK } ready && ready.Body.Contains("\"bundle\":1,", StringComparison.Ordinal), TimeSpan.FromSeconds(180), $"node {node.NodeId} ready on bundle 1", node.Log);
        }

        return fleet;
    }

    public void StartCandidate(bool clickbait, double fraction)
    {
        var path = WriteBundle(CandidateVersion, clickbait, null, EdgeNode.BundleKey);
        var started = Cli.Ok("rollout", "start", "--nats", Url, "--bundle", path, "--fraction", fraction.ToString(CultureInfo.InvariantCulture), "--key-file", _keyFile);
        _output.WriteLine(started.Out);
        foreach (var node in Nodes)
        {
            Wait.UntilAsync(
                async () => await node.GetAsync("/v1/rollout") is { Status: HttpStatusCode.OK } s && s.Body.Contains("\"decidedBy\":\"fleet\"", StringComparison.Ordinal),
                TimeSpan.FromSeconds(60), $"node {node.NodeId} trying candidate 2", node.Log).GetAwaiter().GetResult();
        }
    }

    public void RefusedCandidate(ulong version, double fraction, string reason, FeatureSpace? space = null, string key = EdgeNode.BundleKey)
    {
        var path = WriteBundle(version, clickbait: false, space, key);
        var refused = Cli.Run("rollout", "start", "--nats", Url, "--bundle", path, "--fraction", fraction.ToString(CultureInfo.InvariantCulture), "--key-file", _keyFile);
        _output.WriteLine(refused.Err);
        Assert.Equal(1, refused.Exit);
        Assert.Contains(reason, refused.Err, StringComparison.Ordinal);
        Assert.Contains("nothing was published", refused.Err, StringComparison.Ordinal);
        Assert.Contains("candidate 2 running", Cli.Ok("rollout", "status", "--nats", Url).Out, StringComparison.Ordinal);
    }

    /// <summary>Rounds of traffic, each followed by a trainer run, until the trainer publishes a decision (at most MaxRounds).</summary>
    public async Task<Run> DriveUntilDecidedAsync(ArmSplit split)
    {
        long impressions = 0, candidateServed = 0, controlServedCandidate = 0;
        var train = string.Empty;
        for (var round = 0; round < MaxRounds; round++)
        {
            var run = await DriveAsync(split, PagesPerRound, offset: round * PagesPerRound);
            impressions += run.Impressions;
            candidateServed += run.CandidateServed;
            controlServedCandidate += run.ControlServedCandidate;
            await ShippedAsync();
            var trained = Cli.Ok(["train", "--nats", Url, "--models", _models, "--key-file", _keyFile, "--no-publish", .. TestSettings]);
            train = trained.Out + trained.Err;
            _output.WriteLine($"round {round}: {run.Impressions} impressions, {run.CandidateServed} from the candidate\n{trained.Out}");
            if (train.Contains("(published to the fleet)", StringComparison.Ordinal))
            {
                _output.WriteLine($"decided after {impressions} impressions ({candidateServed} from the candidate), round {round}");
                return new Run(impressions, candidateServed, controlServedCandidate, train);
            }
        }

        Assert.Fail($"no fleet decision after {MaxRounds} rounds of {PagesPerRound} pages:\n{train}");
        return default;
    }

    /// <summary>
    /// <c>edgesel train --nats --gate --json</c> once every node shipped its events, with every impression's attribution
    /// window closed (<c>--as-of +25h</c>).
    /// </summary>
    public async Task<(int Exit, string Out, string Err)> TrainGateAsync(params string[] extra)
    {
        await ShippedAsync();
        return Cli.Run(["train", "--nats", Url, "--models", _models, "--key-file", _keyFile, "--as-of", "+25h", "--gate", "--json", .. TestSettings, .. extra]);
    }

    /// <summary>Waits until every node tries <paramref name="version"/> as the fleet's candidate (at most 60 s each).</summary>
    public async Task AllTryingAsync(ulong version)
    {
        foreach (var node in Nodes)
        {
            await Wait.UntilAsync(
                async () => await node.GetAsync("/v1/rollout") is { Status: HttpStatusCode.OK } s && s.Body.Contains("\"decidedBy\":\"fleet\"", StringComparison.Ordinal)
                    && s.Body.Contains($"\"version\":{version},", StringComparison.Ordinal),
                TimeSpan.FromSeconds(60), $"node {node.NodeId} trying candidate {version}", node.Log);
        }
    }

    /// <summary>The last trainer run's JSON report (a run with nothing new: the counts as they stand).</summary>
    public string TrainJson() =>
        Cli.Ok(["train", "--nats", Url, "--models", _models, "--key-file", _keyFile, "--no-publish", "--json", .. TestSettings]).Out;

    /// <summary>Pages of all 12 titles for members offset, offset+1, …, to nodes 1 and 2 in turn; each reward to the other node.</summary>
    public async Task<Run> DriveAsync(ArmSplit split, int pages, int offset, ulong candidate = CandidateVersion)
    {
        var clients = Nodes.Select(n => n.Client()).ToArray();
        try
        {
            var titles = _world.TitleIds.Select(t => new TitleCandidate(t, 0.5f, false)).ToArray();
            var results = new SelectResult[titles.Length];
            var rng = new Random(offset + 7);
            long impressions = 0, candidateServed = 0, controlServedCandidate = 0;
            for (var page = 0; page < pages; page++)
            {
                var m = (offset + page) % _world.MemberCount;
                await clients[page % 2].SelectPageAsync(Request(m), titles, results);
                var arm = split.ArmOf(LoopWorld.MemberId(m));
                var rewards = new List<RewardRequest>();
                foreach (var r in results)
                {
                    impressions++;
                    var fromCandidate = r.ModelVersion == candidate;
                    candidateServed += fromCandidate ? 1 : 0;
                    controlServedCandidate += fromCandidate && arm == Arm.Control ? 1 : 0;
                    if (_world.Respond(m, r.TitleId, r.ImageId, r.EventId, 0, rng) is { } reward)
                    {
                        rewards.Add(RewardRequest.For(r, reward.PlayStarted, reward.MinutesWatched, reward.FractionCompleted));
                    }
                }

                await Task.WhenAll(rewards.Select(reward => SendAsync(clients[(page + 1) % 2], reward)));
            }

            return new Run(impressions, candidateServed, controlServedCandidate, string.Empty);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    public async Task<bool> AllActiveAsync(ulong version)
    {
        foreach (var node in Nodes)
        {
            if (await node.MetricAsync("edgeselector_model_bundle_version{which=\"active\"}") != version)
            {
                return false;
            }
        }

        return true;
    }

    public static async Task<JsonElement> LastDecisionAsync(EdgeNode node, string action)
    {
        JsonElement decision = default;
        await Wait.UntilAsync(
            async () =>
            {
                var (status, body) = await node.GetAsync("/v1/rollout");
                if (status != HttpStatusCode.OK)
                {
                    return false;
                }

                var decisions = JsonDocument.Parse(body).RootElement.GetProperty("decisions");
                decision = decisions[decisions.GetArrayLength() - 1].Clone();
                return decision.GetProperty("action").GetString() == action;
            },
            TimeSpan.FromSeconds(60),
            $"node {node.NodeId} recording {action}",
            node.Log);
        return decision;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }

        _nats.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A node's files may linger a moment after its kill.
        }
    }


    private static async Task SendAsync(EdgeSelectorClient client, RewardRequest reward)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                Assert.Equal(RewardStatus.Accepted, await client.RewardAsync(reward));
                return;
            }
            catch (EdgeSelectorProtocolException e) when (e.Code == ErrorCode.Unavailable && attempt < 8)
            {
                await Task.Delay(200);
            }
        }
    }

    // Every node's logs shipped (lag 0), so a trainer run sees this round's events.
    private async Task ShippedAsync()
    {
        foreach (var node in Nodes)
        {
            await Wait.UntilAsync(
                async () => await node.MetricAsync("edgeselector_fleet_shipping_lag_bytes{log=\"impressions\"}") == 0 && await node.MetricAsync("edgeselector_fleet_shipping_lag_bytes{log=\"rewards\"}") == 0,
                TimeSpan.FromSeconds(60), $"node {node.NodeId} shipped its events", node.Log);
        }
    }

    private RequestContext Request(int m)
    {
        var context = new RequestContext
        {
            MemberId = LoopWorld.MemberId(m),
            Country = _world.Country(m),
            Language = CountryCode.Pack("EN"),
            Device = _world.Device(m),
            HourOfDay = 21,
            DayOfWeek = 5,
        };
        context.SetGenres(_world.Affinity(m));
        return context;
    }

    // The world's catalog models; `clickbait` makes every title's click-bait image the favourite (a candidate the world
    // punishes: ~0.03 quality plays against ~0.15; docs/rollout.md "Measured").
    private List<TitleModel> Models(ulong version, bool clickbait, FeatureSpace? space)
    {
        var models = CatalogModelBuilder.Build(_world.Catalog, version, space ?? FeatureSpace.Default);
        if (clickbait)
        {
            foreach (var image in models.SelectMany(m => m.Images).Where(i => i.Tags.Contains(LoopWorld.ClickbaitTag)))
            {
                image.Bias += 0.5f;
            }
        }

        return models;
    }

    private string WriteBundle(ulong version, bool clickbait, FeatureSpace? space, string key)
    {
        var blobs = Models(version, clickbait, space).Select(m => m.Serialize(WeightPrecision.Int8)).ToList();
        var manifest = new BundleManifest { Version = version, ParentVersion = 1, CreatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Full = true };
        var path = Path.Combine(_root, string.Create(CultureInfo.InvariantCulture, $"candidate-{version}-{Guid.NewGuid():N}.esb"));
        File.WriteAllBytes(path, ModelBundle.Write(manifest, blobs, Encoding.UTF8.GetBytes(key)));
        return path;
    }

    public readonly record struct Run(long Impressions, long CandidateServed, long ControlServedCandidate, string LastTrain);
}
