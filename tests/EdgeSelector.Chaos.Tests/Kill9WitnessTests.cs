using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using EdgeSelector.Chaos.Tests.Infrastructure;
using EdgeSelector.Client;
using EdgeSelector.Core.Logging;
using EdgeSelector.Primitives;
using EdgeSelector.Protocol;
using EdgeSelector.Storage.Impressions;
using Xunit.Abstractions;

namespace EdgeSelector.Chaos.Tests;

/// <summary>
/// kill -9 under load with a witness (docs/reliability.md, "Acknowledged means durable"): while selections, rewards,
/// bundle pushes and profile imports run, the node is killed; the witness remembers every REWARD answered "accepted"
/// and every admin write answered 200, and after the restart each one is there. The short form kills once, the long
/// form (EDGESELECTOR_CHAOS=long) several times over the same data directory.
/// </summary>
public sealed class Kill9WitnessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan LoadCap = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Kill9UnderLoad_EveryAcknowledgedRewardPushAndProfile_IsThereAfterRestart()
    {
        using var dir = new TempDirectory("es-chaos-kill9-");
        // A slow group commit widens the window in which rewards are appended but not yet durable: exactly those must
        // not have been answered "accepted" when the kill lands.
        using var node = ChaosNode.Start(dir.Path, "--EdgeSelector:LogCommitIntervalMs=50");
        await node.WaitReadyAsync();
        var witness = new Witness();
        var random = new Random(20261202);
        ulong nextVersion = 2;
        ulong nextMember = 5_000_000;

        for (var cycle = 1; cycle <= ChaosBudget.KillCycles; cycle++)
        {
            using var stop = new CancellationTokenSource();
            await using var client = node.Client(connections: 4);
            var rewarders = Enumerable.Range(0, 4).Select(w => RewardLoadAsync(client, witness, (ulong)((cycle * 100) + w) << 20, stop.Token)).ToArray();
            var admin = AdminLoadAsync(node.Http, witness, () => nextVersion++, count => { var m = nextMember; nextMember += (ulong)count; return m; }, stop.Token);

            // Kill once the load is well under way (enough acknowledged to mean something), at a seeded random moment.
            var clock = Stopwatch.StartNew();
            var after = TimeSpan.FromMilliseconds(random.Next(300, 1500));
            while (clock.Elapsed < LoadCap && (witness.Rewards.Count < 300 * cycle || witness.Pushes.Count < cycle || witness.Profiles.Count < 50 * cycle))
            {
                await Task.Delay(50);
            }

            await Task.Delay(after);
            node.Kill9();
            await stop.CancelAsync();
            await Task.WhenAll([.. rewarders, admin]);
            output.WriteLine($"cycle {cycle}: killed after {clock.Elapsed.TotalSeconds:F1} s; acknowledged so far: {witness.Rewards.Count} rewards, {witness.Pushes.Count} pushes (last {witness.LastPush}), {witness.Profiles.Count} profiles");
            Assert.True(witness.Rewards.Count >= 300 * cycle, $"only {witness.Rewards.Count} rewards acknowledged before the kill: the load never ran");

            var recovery = Stopwatch.StartNew();
            node.Restart();
            await node.WaitReadyAsync();
            output.WriteLine($"cycle {cycle}: ready again {recovery.Elapsed.TotalSeconds:F1} s after the restart (process start, recovery, /readyz 200)");
            await AssertAdminWritesSurvivedAsync(node, witness);
        }

        // The reward log as the restarted node left it (stopped cleanly first, so the files are quiet).
        Assert.True(node.Terminate(TimeSpan.FromSeconds(60)), "the node did not stop within 60 s of SIGTERM");
        var logged = new HashSet<ulong>();
        using (var log = ImpressionLogSnapshotReader.Open(Path.Combine(dir.Path, "rewards")))
        {
            log.ReadFrom(0, new CollectRewards(logged));
        }

        var missing = witness.Rewards.Keys.Where(id => !logged.Contains(id)).ToList();
        output.WriteLine($"rewards acknowledged {witness.Rewards.Count}, in the reward log after restart {logged.Count}, missing {missing.Count}");
        Assert.True(missing.Count == 0, $"{missing.Count} rewards answered \"accepted\" are missing after kill -9, e.g. {string.Join(", ", missing.Take(5))}");
    }

    private static async Task AssertAdminWritesSurvivedAsync(ChaosNode node, Witness witness)
    {
        // The last push answered 200 is active, or a later one the kill cut off after it became durable.
        using (var models = JsonDocument.Parse(await node.Http.GetStringAsync("/v1/models")))
        {
            var active = models.RootElement.GetProperty("activeVersion").GetUInt64();
            Assert.True(active >= witness.LastPush, $"bundle {witness.LastPush} was answered 200 before the kill, but {active} is active after the restart");
            await using var client = node.Client();
            var served = await client.SelectAsync(Traffic.Member(1), new TitleCandidate(1003, 0.5f, false));
            Assert.Equal(active, served.ModelVersion);
        }

        // Every profile answered 200 is known: a selection for that member is not "no_profile".
        await using (var client = node.Client(connections: 2))
        {
            var lost = new ConcurrentBag<ulong>();
            var members = witness.Profiles.Keys.ToArray();
            for (var i = 0; i < members.Length; i += 256)
            {
                await Task.WhenAll(members.Skip(i).Take(256).Select(async member =>
                {
                    var r = await client.SelectAsync(Traffic.Member(member), new TitleCandidate(1001, 0.5f, false));
                    if (r.Reason == FallbackReason.NoProfile)
                    {
                        lost.Add(member);
                    }
                }));
            }

            Assert.True(lost.IsEmpty, $"{lost.Count} of {members.Length} profiles answered 200 are unknown after kill -9, e.g. {string.Join(", ", lost.Take(5))}");
        }
    }

    // Select a page, reward every title at once; the witness keeps each reward answered "accepted". Bounded: the stop
    // token (the kill) or 2,000 pages, whichever first.
    private static async Task RewardLoadAsync(EdgeSelectorClient client, Witness witness, ulong memberBase, CancellationToken stop)
    {
        var results = new SelectResult[Traffic.Page.Length];
        for (ulong page = 0; page < 2_000 && !stop.IsCancellationRequested; page++)
        {
            try
            {
                await client.SelectPageAsync(Traffic.Member(memberBase + page), Traffic.Page, results, stop);
                await Task.WhenAll(results.Select(async r =>
                {
                    if (await client.RewardAsync(RewardRequest.For(r, true, 12f, 0.4f), stop) == RewardStatus.Accepted)
                    {
                        witness.Rewards.TryAdd(r.EventId, 0);
                    }
                }));
            }
            catch (Exception e) when (Cut(e))
            {
                // Cut off by the kill: never acknowledged, so nothing was promised.
                if (stop.IsCancellationRequested)
                {
                    return;
                }

                await Task.Delay(20, CancellationToken.None);
            }
        }
    }

    // Pushes a bundle, then imports 50 new profiles, in turn; the witness keeps what was answered 200.
    private static async Task AdminLoadAsync(HttpClient http, Witness witness, Func<ulong> nextVersion, Func<int, ulong> nextMembers, CancellationToken stop)
    {
        for (var i = 0; i < 500 && !stop.IsCancellationRequested; i++)
        {
            try
            {
                var version = nextVersion();
                using (var push = await http.PutAsync("/v1/models", new ByteArrayContent(Traffic.Bundle(version)), stop))
                {
                    if (push.StatusCode == HttpStatusCode.OK)
                    {
                        witness.Pushed(version);
                    }
                }

                var first = nextMembers(50);
                using var import = await http.PutAsync("/v1/profiles", Traffic.Profiles(first, 50), stop);
                if (import.StatusCode == HttpStatusCode.OK)
                {
                    for (var m = first; m < first + 50; m++)
                    {
                        witness.Profiles.TryAdd(m, 0);
                    }
                }
            }
            catch (Exception e) when (Cut(e) || e is HttpRequestException)
            {
                if (stop.IsCancellationRequested)
                {
                    return;
                }

                await Task.Delay(20, CancellationToken.None);
            }
        }
    }

    private static bool Cut(Exception e) =>
        e is EdgeSelectorProtocolException or IOException or TimeoutException or OperationCanceledException or ObjectDisposedException or InvalidOperationException;

    private sealed class Witness
    {
        private long _lastPush = 1;

        public ConcurrentDictionary<ulong, byte> Rewards { get; } = new();

        public ConcurrentDictionary<ulong, byte> Pushes { get; } = new();

        public ConcurrentDictionary<ulong, byte> Profiles { get; } = new();

        public ulong LastPush => (ulong)Interlocked.Read(ref _lastPush);

        public void Pushed(ulong version)
        {
            Pushes.TryAdd(version, 0);
            long seen;
            while ((seen = Interlocked.Read(ref _lastPush)) < (long)version && Interlocked.CompareExchange(ref _lastPush, (long)version, seen) != seen)
            {
            }
        }
    }

    private readonly struct CollectRewards(HashSet<ulong> ids) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            if (RewardRecord.TryRead(record, out var reward))
            {
                ids.Add(reward.EventId);
            }
        }
    }
}
