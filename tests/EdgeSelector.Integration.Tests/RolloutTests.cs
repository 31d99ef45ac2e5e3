using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EdgeSelector.Client;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Training;
using EdgeSelector.Protocol;
using Xunit.Abstractions;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// Safe rollout on a live node driven by the simulated world (docs/rollout.md): members of <see cref="LoopWorld"/>
/// ask for pages over the binary protocol and send the rewards the world draws; the node serves a candidate bundle to
/// its sticky arm, joins the rewards in memory and promotes or rolls back on its own.
/// </summary>
public sealed class RolloutTests(ITestOutputHelper output)
{
    // Stated bounds (docs/rollout.md): a clearly worse candidate is rolled back within this many candidate-arm
    // impressions, a clearly better one promoted once the configured evidence is in.
    private const long RollbackWithinCandidateImpressions = 3_000;
    private const long PromoteAfter = 2_000;

    internal static readonly string[] Settings =
    [
        "--EdgeSelector:Rollout:EvaluateIntervalMs=50",
        "--EdgeSelector:Rollout:MinImpressionsPerArm=300",
        $"--EdgeSelector:Rollout:PromoteAfterImpressions={PromoteAfter}",
        "--EdgeSelector:Rollout:NonInferiorityMargin=0.02",
        // The shared machine's disk can stall a group commit for seconds: the server answers Unavailable (retried below)
        // after 20 s, before the client's own 30 s request timeout, as docs/protocol.md asks of a client.
        "--EdgeSelector:RewardCommitTimeoutSeconds=20",
        "--EdgeSelector:StoreWriteTimeoutSeconds=60", // and a checkpoint: a promotion is a push, answered once durable
    ];

    [Fact]
    public async Task WorseCandidate_IsRolledBackWithinTheBound_AndControlMembersNeverSeeIt()
    {
        var world = new LoopWorld(titles: 12, members: 4_000, seed: 21);
        await using var server = await LiveServer.StartAsync(demo: false, extra: Settings);
        await Push(server, Bundle(world, 1, clickbait: false));
        var start = await StartCandidate(server, Bundle(world, 2, clickbait: true), 0.3);
        Assert.Equal(HttpStatusCode.OK, start.StatusCode);

        var split = new ArmSplit(2, 0.3);
        var run = await Drive(server, world, split, until: s => !s.TryGetProperty("candidate", out _), maxPages: 3_000);
        output.WriteLine(run.Summary);
        Assert.Equal(0, run.ControlServedCandidate);
        var decision = await LastDecision(server);
        output.WriteLine(decision.ToString());
        Assert.Equal("rollback", decision.GetProperty("action").GetString());
        Assert.StartsWith("worse", decision.GetProperty("reason").GetString(), StringComparison.Ordinal);
        var decidedAfter = decision.GetProperty("candidateImpressions").GetInt64();
        Assert.InRange(decidedAfter, 300, RollbackWithinCandidateImpressions);

        // After the rollback every member, candidate arm included, is served the active bundle.
        var after = await Drive(server, world, split, until: _ => false, maxPages: 100);
        Assert.Equal(0, after.CandidateServed);
        Assert.Contains("edgeselector_rollout_decisions_total{action=\"rollback\"} 1", await server.Anonymous.GetStringAsync("/metrics"), StringComparison.Ordinal);
        Assert.Equal(1ul, (await Status(server)).GetProperty("activeVersion").GetUInt64());
    }

    [Fact]
    public async Task BetterCandidate_IsPromotedAfterTheConfiguredEvidence()
    {
        var world = new LoopWorld(titles: 12, members: 4_000, seed: 22);
        await using var server = await LiveServer.StartAsync(demo: false, extra: Settings);
        await Push(server, Bundle(world, 1, clickbait: true));
        Assert.Equal(HttpStatusCode.OK, (await StartCandidate(server, Bundle(world, 2, clickbait: false), 0.5)).StatusCode);

        var split = new ArmSplit(2, 0.5);
        var run = await Drive(server, world, split, until: s => !s.TryGetProperty("candidate", out _), maxPages: 3_000);
        output.WriteLine(run.Summary);
        Assert.Equal(0, run.ControlServedCandidate);
        var decision = await LastDecision(server);
        output.WriteLine(decision.ToString());
        Assert.Equal("promote", decision.GetProperty("action").GetString());
        Assert.InRange(decision.GetProperty("candidateImpressions").GetInt64(), PromoteAfter, PromoteAfter + 2_000);
        Assert.True(decision.GetProperty("takeDifferenceLow").GetDouble() > -0.02);
        Assert.Equal(2ul, (await Status(server)).GetProperty("activeVersion").GetUInt64());

        // Promoted: every member is now served bundle 2.
        var after = await Drive(server, world, split, until: _ => false, maxPages: 50);
        Assert.Equal(after.Impressions, after.CandidateServed);
    }

    [Fact]
    public async Task EqualCandidate_StaysWithinItsTrafficBudget_AndIsNotRolledBack()
    {
        var world = new LoopWorld(titles: 12, members: 4_000, seed: 23);
        await using var server = await LiveServer.StartAsync(demo: false, extra: [.. Settings, "--EdgeSelector:Rollout:PromoteAfterImpressions=10000000"]);
        await Push(server, Bundle(world, 1, clickbait: false));
        Assert.Equal(HttpStatusCode.OK, (await StartCandidate(server, Bundle(world, 2, clickbait: false), 0.1)).StatusCode);

        var split = new ArmSplit(2, 0.1);
        var run = await Drive(server, world, split, until: _ => false, maxPages: 2_500);
        output.WriteLine(run.Summary);
        Assert.Equal(0, run.ControlServedCandidate);
        var status = await Status(server);
        output.WriteLine(status.GetProperty("test").ToString());
        Assert.Equal(2ul, status.GetProperty("candidate").GetProperty("version").GetUInt64());
        Assert.NotEqual("worse", status.GetProperty("test").GetProperty("verdict").GetString());
        // 2,500 distinct members: the candidate's share of pages is a binomial share of members around 0.1 (sd 0.006).
        var share = (double)run.CandidateServed / run.Impressions;
        Assert.InRange(share, 0.07, 0.13);
        var arms = status.GetProperty("arms");
        Assert.Equal(run.Impressions - run.CandidateServed, arms[0].GetProperty("impressions").GetInt64());
        Assert.Equal(run.CandidateServed, arms[1].GetProperty("impressions").GetInt64());
        Assert.Equal(run.RewardsSent, arms[0].GetProperty("rewards").GetInt64() + arms[1].GetProperty("rewards").GetInt64());
    }

    [Fact]
    public async Task BadCandidates_AreRefusedWithAReason_AndNothingServedChanges()
    {
        var world = new LoopWorld(titles: 4, members: 100, seed: 24);
        await using var server = await LiveServer.StartAsync(demo: false, extra: Settings);
        await Push(server, Bundle(world, 5, clickbait: false));

        await Refused(server, await StartCandidate(server, Bundle(world, 6, clickbait: true), 1.5), 400, "outside [0, 1]");
        await Refused(server, await StartCandidate(server, Bundle(world, 6, clickbait: true), -0.1), 400, "outside [0, 1]");
        await Refused(server, await server.Http.PutAsync("/v1/rollout/candidate?fraction=lots", new ByteArrayContent(Bundle(world, 6, clickbait: true))), 400, "not a number");
        await Refused(server, await StartCandidate(server, Bundle(world, 4, clickbait: true), 0.1), 409, "not newer than the active version 5");
        await Refused(server, await StartCandidate(server, Bundle(world, 5, clickbait: true), 0.1), 409, "not newer than the active version 5");
        var otherSchema = new FeatureSpace(64, 0x0BADF00D, FeatureSpace.CurrentSchema);
        await Refused(server, await StartCandidate(server, Bundle(world, 6, clickbait: true, otherSchema), 0.1), 409, "feature schema");
        await Refused(server, await StartCandidate(server, Bundle(world, 6, clickbait: true, key: "another key"), 0.1), 403, "BadSignature");
        await Refused(server, await server.Http.PutAsync("/v1/rollout/fraction", JsonContent.Create(new { fraction = 0.2 })), 409, "no candidate");
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Anonymous.GetAsync("/v1/rollout")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Anonymous.PutAsync("/v1/rollout/candidate", new ByteArrayContent(Bundle(world, 6, clickbait: true)))).StatusCode);

        // A good one starts; a bad fraction change or an older candidate leaves it as it is.
        Assert.Equal(HttpStatusCode.OK, (await StartCandidate(server, Bundle(world, 7, clickbait: true), 0.25)).StatusCode);
        await Refused(server, await server.Http.PutAsync("/v1/rollout/fraction", JsonContent.Create(new { fraction = 2.0 })), 400, "outside [0, 1]");
        await Refused(server, await StartCandidate(server, Bundle(world, 6, clickbait: true), 0.5), 409, "not newer than the candidate being tried (7)");
        var status = await Status(server);
        Assert.Equal(7ul, status.GetProperty("candidate").GetProperty("version").GetUInt64());
        Assert.Equal(0.25, status.GetProperty("candidate").GetProperty("fraction").GetDouble());
        Assert.Equal(5ul, status.GetProperty("activeVersion").GetUInt64());
    }

    [Fact]
    public async Task Candidate_AndItsEvidence_SurviveARestart()
    {
        var world = new LoopWorld(titles: 6, members: 600, seed: 25);
        var dataDir = Path.Combine(Path.GetTempPath(), "es-it-rollout-" + Guid.NewGuid().ToString("N"));
        string[] settings = [.. Settings, "--EdgeSelector:Rollout:AutoDecide=false"];
        long candidateImpressions;
        await using (var server = await LiveServer.StartAsync(dataDir, demo: false, keepData: true, extra: settings))
        {
            await Push(server, Bundle(world, 1, clickbait: false));
            Assert.Equal(HttpStatusCode.OK, (await StartCandidate(server, Bundle(world, 2, clickbait: true), 0.4)).StatusCode);
            await Drive(server, world, new ArmSplit(2, 0.4), until: _ => false, maxPages: 200);
            candidateImpressions = server.Node.Rollout.Current!.Counters.Impressions(Arm.Candidate).Value;
            Assert.True(candidateImpressions > 0);
        }

        await using (var restarted = await LiveServer.StartAsync(dataDir, demo: false, extra: settings))
        {
            var status = await Status(restarted);
            Assert.Equal(2ul, status.GetProperty("candidate").GetProperty("version").GetUInt64());
            Assert.Equal(0.4, status.GetProperty("candidate").GetProperty("fraction").GetDouble());
            Assert.Equal(candidateImpressions, status.GetProperty("arms")[1].GetProperty("impressions").GetInt64());
            var run = await Drive(restarted, world, new ArmSplit(2, 0.4), until: _ => false, maxPages: 50);
            Assert.Equal(0, run.ControlServedCandidate);
            Assert.True(run.CandidateServed > 0);

            // An operator's rollback is a decision like the test's, and is persisted too.
            Assert.Equal(HttpStatusCode.OK, (await restarted.Http.PostAsync("/v1/rollout/rollback?reason=by%20hand", null)).StatusCode);
            var decision = await LastDecision(restarted);
            Assert.Equal("operator", decision.GetProperty("by").GetString());
            Assert.Equal("by hand", decision.GetProperty("reason").GetString());
        }
    }

    // Pages of every title for members 0, 1, 2, … (each member once per pass), the world's rewards sent at once;
    // stops when `until` holds for GET /v1/rollout (checked every 20 pages) or after maxPages.
    private static async Task<RunSummary> Drive(LiveServer server, LoopWorld world, ArmSplit split, Func<JsonElement, bool> until, int maxPages, ulong candidateVersion = 2)
    {
        // A reward is answered once durable, and Settings let a group commit take up to 60 s on this shared disk: the
        // client waits longer than the server does, so a slow commit is answered (late) rather than timed out here.
        await using var client = new EdgeSelectorClient(new EdgeSelectorClientOptions { EndPoint = server.BinaryEndPoint, RequestTimeout = TimeSpan.FromSeconds(90) });
        var titles = world.TitleIds.Select(t => new TitleCandidate(t, 0.5f, false)).ToArray();
        var results = new SelectResult[titles.Length];
        var rng = new Random(7);
        long impressions = 0, candidateServed = 0, controlServedCandidate = 0, rewards = 0;
        for (var page = 0; page < maxPages; page++)
        {
            var m = page % world.MemberCount;
            // A control member served the candidate's models is a failure only while the candidate runs (after a
            // promotion every member is served that version as the active bundle).
            var runningBefore = server.Node.Rollout.Current?.Version == candidateVersion;
            await client.SelectPageAsync(Request(world, m), titles, results);
            var running = runningBefore && server.Node.Rollout.Current?.Version == candidateVersion;
            var arm = split.ArmOf(LoopWorld.MemberId(m));
            var pageRewards = new List<RewardRequest>();
            foreach (var r in results)
            {
                Assert.Equal(FallbackReason.None, r.Reason);
                impressions++;
                var fromCandidate = r.ModelVersion == candidateVersion;
                candidateServed += fromCandidate ? 1 : 0;
                controlServedCandidate += fromCandidate && running && arm == Arm.Control ? 1 : 0;
                if (world.Respond(m, r.TitleId, r.ImageId, r.EventId, 0, rng) is { } reward)
                {
                    pageRewards.Add(RewardRequest.For(r, reward.PlayStarted, reward.MinutesWatched, reward.FractionCompleted));
                }
            }

            rewards += await SendRewards(client, pageRewards);

            if (page % 20 == 19 && until(await Status(server)))
            {
                break;
            }
        }

        var summary = $"{impressions} impressions, {candidateServed} from the candidate, {rewards} rewards";
        return new RunSummary(impressions, candidateServed, controlServedCandidate, rewards, summary);
    }

    /// <summary>A page's rewards together (one group commit), each retried on the documented retry code.</summary>
    internal static async Task<int> SendRewards(EdgeSelectorClient client, List<RewardRequest> rewards)
    {
        var statuses = await Task.WhenAll(rewards.Select(async reward =>
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    return await client.RewardAsync(reward);
                }
                catch (EdgeSelectorProtocolException e) when (e.Code == ErrorCode.Unavailable && attempt < 8)
                {
                    await Task.Delay(200);
                }
            }
        }));
        Assert.All(statuses, s => Assert.Equal(RewardStatus.Accepted, s));
        return statuses.Length;
    }

    internal static RequestContext Request(LoopWorld world, int m)
    {
        var context = new RequestContext
        {
            MemberId = LoopWorld.MemberId(m),
            Country = world.Country(m),
            Language = CountryCode.Pack("EN"),
            Device = world.Device(m),
            HourOfDay = 21,
            DayOfWeek = 5,
        };
        context.SetGenres(world.Affinity(m));
        return context;
    }

    // The world's catalog models at `version`; `clickbait` makes every title's click-bait image the model's favourite
    // (a candidate the world punishes: 3% quality plays against ~15-19% for a themed image).
    internal static byte[] Bundle(LoopWorld world, ulong version, bool clickbait, FeatureSpace? space = null, string key = LiveServer.BundleKey)
    {
        var models = CatalogModelBuilder.Build(world.Catalog, version, space ?? FeatureSpace.Default);
        var blobs = new List<byte[]>();
        foreach (var model in models)
        {
            if (clickbait)
            {
                foreach (var image in model.Images.Where(i => i.Tags.Contains(LoopWorld.ClickbaitTag)))
                {
                    image.Bias += 0.5f;
                }
            }

            blobs.Add(model.Serialize(WeightPrecision.Int8));
        }

        var manifest = new BundleManifest { Version = version, ParentVersion = version - 1, CreatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        return ModelBundle.Write(manifest, blobs, Encoding.UTF8.GetBytes(key));
    }

    internal static async Task Push(LiveServer server, byte[] bundle)
    {
        var response = await server.Http.PutAsync("/v1/models", new ByteArrayContent(bundle));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    internal static Task<HttpResponseMessage> StartCandidate(LiveServer server, byte[] bundle, double fraction) =>
        server.Http.PutAsync("/v1/rollout/candidate?fraction=" + fraction.ToString(CultureInfo.InvariantCulture), new ByteArrayContent(bundle));

    private static async Task Refused(LiveServer server, HttpResponseMessage response, int status, string reason)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"{(int)response.StatusCode}: {body}");
        using var json = JsonDocument.Parse(body);
        Assert.Contains(reason, json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        var models = await server.Http.GetFromJsonAsync<JsonElement>("/v1/models");
        var status2 = await Status(server);
        Assert.Equal(models.GetProperty("activeVersion").GetUInt64(), status2.GetProperty("activeVersion").GetUInt64());
    }

    private static async Task<JsonElement> Status(LiveServer server) => await server.Http.GetFromJsonAsync<JsonElement>("/v1/rollout");

    private static async Task<JsonElement> LastDecision(LiveServer server)
    {
        var decisions = (await Status(server)).GetProperty("decisions");
        return decisions[decisions.GetArrayLength() - 1];
    }

    private sealed record RunSummary(long Impressions, long CandidateServed, long ControlServedCandidate, long RewardsSent, string Summary);
}

/// <summary>The request path with a candidate running allocates nothing (the claim in RolloutService's remarks).</summary>
[Collection(AllocationCountingCollection.Name)]
public sealed class RolloutAllocationTests
{
    [Fact]
    public async Task Select_WithACandidateRunning_AllocatesNothingPerRequest()
    {
        var world = new LoopWorld(titles: 12, members: 200, seed: 26);
        await using var server = await LiveServer.StartAsync(demo: false, extra: [.. RolloutTests.Settings, "--EdgeSelector:LogImpressions=false", "--EdgeSelector:Rollout:AutoDecide=false"]);
        await RolloutTests.Push(server, RolloutTests.Bundle(world, 1, clickbait: false));
        Assert.Equal(HttpStatusCode.OK, (await RolloutTests.StartCandidate(server, RolloutTests.Bundle(world, 2, clickbait: true), 0.5)).StatusCode);
        using var selection = new ServingDriver(server.Node);
        var titles = world.TitleIds.Select(t => new TitleCandidate(t, 0.5f, false)).ToArray();
        var results = new SelectResult[titles.Length];
        var contexts = Enumerable.Range(0, 200).Select(m => RolloutTests.Request(world, m)).ToArray();
        void Run(int pages)
        {
            for (var i = 0; i < pages; i++)
            {
                selection.Select(in contexts[i % contexts.Length], titles, results, System.Diagnostics.Stopwatch.GetTimestamp());
            }
        }

        Run(2_000);
        var windows = new long[3];
        for (var w = 0; w < windows.Length; w++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            Run(2_000);
            windows[w] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        var counters = server.Node.Rollout.Current!.Counters;
        Assert.True(counters.Impressions(Arm.Candidate).Value > 0 && counters.Impressions(Arm.Control).Value > 0);
        // One 24-byte object per page would be 48 KB per window; a one-off FASTER epoch action may land in one window.
        Assert.True(windows.Count(w => w == 0) >= 2, $"allocated {string.Join(", ", windows)} bytes in three windows of 2,000 pages");
    }
}
