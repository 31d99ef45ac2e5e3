using System.Text;
using System.Text.Json;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Rollout;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Tests;

/// <summary>
/// The rollout's promotion through the model store's async push (docs/rollout.md, "Decisions" and "Durability"): a
/// durable push promotes at once, one the store answers Pending is recorded <c>promote_pending</c> and finished by an
/// evaluation, a pending promotion survives a restart and the first evaluation after it finishes it, and a state file
/// written before pending promotions were persisted still loads. The evaluation timer is off (a day): the tests evaluate.
/// </summary>
public sealed class RolloutPromotionTests
{
    private static readonly Action<EdgeSelectorOptions> Manual = o =>
    {
        o.Rollout.AutoDecide = false;
        o.Rollout.EvaluateIntervalMs = 86_400_000;
    };

    // A store write timeout far below any checkpoint: every push is answered Pending and takes effect in the background.
    private static readonly Action<EdgeSelectorOptions> SlowStore = o =>
    {
        Manual(o);
        o.StoreWriteTimeoutSeconds = 0.000001;
    };

    [Fact]
    public async Task PromoteNowAsync_StoreMakesItDurable_PromotedAtOnce_TrialEndedAndBundleFileDeleted()
    {
        using var node = TestNode.Start(Manual);
        var rollout = node.Node.Rollout;
        Assert.Equal(200, (await rollout.StartAsync(Candidate(2), 0.5, "operator")).Status);
        Assert.True(File.Exists(RolloutFile(node, "candidate.esb")));

        var outcome = await rollout.PromoteNowAsync("operator");

        Assert.Equal(200, outcome.Status);
        Assert.Equal("promote", outcome.Action);
        Assert.Equal(2ul, node.Node.Stores.Models.Version);
        Assert.Null(rollout.Current);
        Assert.Null(rollout.PendingPromotionVersion);
        Assert.False(File.Exists(RolloutFile(node, "candidate.esb")));
        var last = rollout.Status().Decisions[^1];
        Assert.Equal(("promote", "operator", 2ul, 2ul), (last.Action, last.By, last.CandidateVersion, last.ActiveVersion));
        Assert.Equal(409, (await rollout.PromoteNowAsync("operator")).Status); // nothing left to promote
    }

    [Fact]
    public async Task PromoteNowAsync_StoreAnswersPending_Accepted_ThenAnEvaluationRecordsThePromotion()
    {
        using var node = await SlowNodeWithCandidate();
        var rollout = node.Node.Rollout;
        var published = Published(node);

        var outcome = await rollout.PromoteNowAsync("operator");

        Assert.Equal(202, outcome.Status);
        Assert.Equal("promote_pending", outcome.Action);
        Assert.Null(rollout.Current); // the trial ended before the bundle became active
        Assert.Equal(2ul, rollout.PendingPromotionVersion);
        Assert.Equal(409, (await rollout.StartAsync(Candidate(3), 0.5, "operator")).Status); // refused while pending

        await published.WaitAsync(TimeSpan.FromSeconds(60)); // bound only: the store's background checkpoint
        Assert.Equal(2ul, node.Node.Stores.Models.Version);
        var decision = await rollout.EvaluateAsync();

        Assert.NotNull(decision);
        Assert.Equal(("promote", "operator", 2ul, 2ul), (decision.Action, decision.By, decision.CandidateVersion, decision.ActiveVersion));
        Assert.EndsWith("(took effect once the model store made it durable)", decision.Reason, StringComparison.Ordinal);
        Assert.Null(rollout.PendingPromotionVersion);
        Assert.Equal(["started", "promote_pending", "promote"], rollout.Status().Decisions.Select(d => d.Action));
        Assert.Null(await rollout.EvaluateAsync()); // finished once
    }

    [Fact]
    public async Task PendingPromotion_SurvivesARestart_TheFirstEvaluationAfterItFinishesIt()
    {
        using var slow = await SlowNodeWithCandidate();
        var published = Published(slow);
        Assert.Equal(202, (await slow.Node.Rollout.PromoteNowAsync("operator")).Status);
        var saved = ReadState(slow);
        Assert.Null(saved.Candidate);
        Assert.Equal((2ul, "operator", "promoted by an operator"), (saved.PendingPromotion?.Candidate.Version, saved.PendingPromotion?.By, saved.PendingPromotion?.Reason));

        // The store makes the bundle durable; the node stops before any evaluation recorded it.
        await published.WaitAsync(TimeSpan.FromSeconds(60));
        using var node = slow.Restart(Manual);
        var rollout = node.Node.Rollout;
        Assert.Equal(2ul, node.Node.Stores.Models.Version);
        Assert.Equal(2ul, rollout.PendingPromotionVersion);
        Assert.Equal(2ul, rollout.Status().PromotionPending);
        Assert.Null(rollout.Current);

        var decision = await rollout.EvaluateAsync();

        Assert.NotNull(decision);
        Assert.Equal(("promote", "operator", 2ul, 2ul), (decision.Action, decision.By, decision.CandidateVersion, decision.ActiveVersion));
        Assert.Equal("promoted by an operator (took effect: the model store made it durable before the node restarted)", decision.Reason);
        Assert.Null(rollout.PendingPromotionVersion);
        Assert.Null(ReadState(node).PendingPromotion);
        Assert.False(File.Exists(RolloutFile(node, "candidate.esb")));
        Assert.Equal(["started", "promote_pending", "promote"], rollout.Status().Decisions.Select(d => d.Action));
    }

    [Theory]
    [InlineData(1ul, 1ul, "promote")] // the store made it durable before the stop
    [InlineData(2ul, 1ul, "superseded")] // a newer bundle was pushed since
    [InlineData(1ul, 2ul, "promote_failed")] // the write died with the process
    public async Task RestoredPendingPromotion_FirstEvaluation_FinishesItByTheActiveVersion(ulong active, ulong pending, string expected)
    {
        var dir = new TempDirectory("es-server-");
        var control = new ArmCountsDto { Impressions = 700, Takes = 35 };
        var candidate = new ArmCountsDto { Impressions = 300, Takes = 18 };
        WriteState(dir.Path, new RolloutStateFile
        {
            NextId = 2,
            PendingPromotion = new PendingPromotionState
            {
                Candidate = new CandidateState { Id = 1, Version = pending, Fraction = 0.3, StartedAtMs = 1, Control = control, Candidate = candidate },
                By = "auto",
                Reason = "not_worse: …",
            },
        });
        using var node = TestNode.Start(Manual, dir: dir); // pushes bundle 1
        if (active == 2)
        {
            Assert.True(node.Push(2, TestNode.Titles[0]).Ok);
        }

        var decision = await node.Node.Rollout.EvaluateAsync();

        Assert.NotNull(decision);
        Assert.Equal((expected, "auto", pending, active), (decision.Action, decision.By, decision.CandidateVersion, decision.ActiveVersion));
        Assert.Equal((700L, 300L), (decision.ControlImpressions, decision.CandidateImpressions)); // the saved evidence
        Assert.Null(node.Node.Rollout.PendingPromotionVersion);
        Assert.Equal(active, node.Node.Stores.Models.Version);
        if (expected == "promote_failed")
        {
            Assert.StartsWith("the node restarted before the model store made candidate 2 durable", decision.Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task StateFileWithoutPendingPromotion_Loads_CandidateResumed_AutoPromotionThroughTheAsyncPath()
    {
        // Written by the node before pending promotions were persisted: no "pendingPromotion" field.
        const string OldState = """
            {"nextId":2,"candidate":{"id":1,"version":2,"fraction":0.5,"startedAtMs":1764700000000,"fleet":false,
            "control":{"impressions":1000000,"fallbacks":0,"rewards":400000,"takes":50000},
            "candidate":{"impressions":1000000,"fallbacks":0,"rewards":400000,"takes":50000}},
            "decisions":[{"atMs":1764700000000,"action":"started","by":"operator","candidateVersion":2,"activeVersion":1,
            "reason":"candidate 2 for 0.5 of members against active 1","controlImpressions":0,"candidateImpressions":0}]}
            """;
        var dir = new TempDirectory("es-server-");
        Directory.CreateDirectory(Path.Combine(dir.Path, "rollout"));
        File.WriteAllBytes(Path.Combine(dir.Path, "rollout", "state.json"), Encoding.UTF8.GetBytes(OldState));
        File.WriteAllBytes(Path.Combine(dir.Path, "rollout", "candidate.esb"), Candidate(2));
        using var node = TestNode.Start(o => o.Rollout.EvaluateIntervalMs = 86_400_000, dir: dir); // AutoDecide on
        var rollout = node.Node.Rollout;

        Assert.Equal(2ul, rollout.Current?.Version);
        Assert.Null(rollout.PendingPromotionVersion);
        Assert.Equal(1_000_000, rollout.Current!.Counters.Read(Arm.Candidate).Impressions);
        Assert.Equal("started", Assert.Single(rollout.Status().Decisions).Action);

        var decision = await rollout.EvaluateAsync();

        Assert.NotNull(decision);
        Assert.Equal(("promote", "auto", 2ul, 2ul), (decision.Action, decision.By, decision.CandidateVersion, decision.ActiveVersion));
        Assert.Equal(2ul, node.Node.Stores.Models.Version);
        Assert.Null(rollout.Current);
    }

    // A node whose store answers every push Pending, with bundle 1 active (once the store made it durable) and
    // candidate 2 being tried.
    private static async Task<TestNode> SlowNodeWithCandidate()
    {
        var node = TestNode.Start(SlowStore, push: false);
        try
        {
            var published = Published(node);
            var first = await node.Node.Bundles.ApplyAsync(TestBundles.Partial(1, LiveServer.BundleKey, [.. TestNode.Titles.Select(t => TestBundles.TitleWithWinner(t, 1, (t * 100) + 2))]), force: false);
            Assert.Equal(BundleResultKind.Pending, first.Kind);
            await published.WaitAsync(TimeSpan.FromSeconds(60)); // bound only: the store's background checkpoint
            Assert.Equal(1ul, node.Node.Stores.Models.Version);
            Assert.Equal(200, (await node.Node.Rollout.StartAsync(Candidate(2), 0.5, "operator")).Status);
            return node;
        }
        catch
        {
            node.Dispose();
            throw;
        }
    }

    private static byte[] Candidate(ulong version) =>
        TestBundles.Partial(version, LiveServer.BundleKey, TestBundles.TitleWithWinner(TestNode.Titles[0], version, (TestNode.Titles[0] * 100) + 3));

    private static string RolloutFile(TestNode node, string name) => Path.Combine(node.DataDir, "rollout", name);

    private static RolloutStateFile ReadState(TestNode node) =>
        JsonSerializer.Deserialize(File.ReadAllBytes(RolloutFile(node, "state.json")), RolloutJsonContext.Default.RolloutStateFile)!;

    private static void WriteState(string dataDir, RolloutStateFile state)
    {
        Directory.CreateDirectory(Path.Combine(dataDir, "rollout"));
        File.WriteAllBytes(Path.Combine(dataDir, "rollout", "state.json"), JsonSerializer.SerializeToUtf8Bytes(state, RolloutJsonContext.Default.RolloutStateFile));
    }

    // Completes when the model store publishes a push it made durable (a pending one, in the background).
    private static Task Published(TestNode node)
    {
        var published = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        node.Node.Stores.Models.Published += () => published.TrySetResult();
        return published.Task;
    }
}
