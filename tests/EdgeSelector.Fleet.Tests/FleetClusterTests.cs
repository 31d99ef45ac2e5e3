using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using EdgeSelector.Client;
using EdgeSelector.Fleet.Profiles;
using EdgeSelector.Learning.Training;
using EdgeSelector.Protocol;
using Xunit.Abstractions;

namespace EdgeSelector.Fleet.Tests;

/// <summary>
/// The fleet as it runs (issue 11.7, docs/fleet.md "Cluster test"): three nats-server processes (every stream R3), three
/// edge nodes as real processes, the trainer in this process. Every wait is bounded; processes and directories are
/// removed even on failure.
/// </summary>
public sealed class FleetClusterTests(ITestOutputHelper output)
{
    private static readonly TimeSpan ServeWithin = TimeSpan.FromSeconds(60);

    private static readonly uint[] Titles = [1001, 1002, 1003, 1004, 1005, 1006];

    [Fact]
    public async Task Cluster_Kill9OfANatsServerAndAnEdgeNodeMidTraffic_EveryAcknowledgedEventReachesTheTrainerExactlyOnce()
    {
        var root = Path.Combine(Path.GetTempPath(), "es-fleet-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var nodes = new List<EdgeNode>();
        try
        {
            using var nats = new NatsCluster(3);
            var keyFile = Path.Combine(root, "bundle.key");
            File.WriteAllText(keyFile, EdgeNode.BundleKey);
            var models = Path.Combine(root, "models");
            var examplesCsv = Path.Combine(root, "examples.csv");
            Cli.Ok("fleet", "init", "--nats", nats.Url, "--replicas", "3");

            for (var id = 1; id <= 3; id++)
            {
                nodes.Add(new EdgeNode(id, nats.Url, root));
            }

            nodes[0].Start();
            nodes[1].Start();

            // 1. A bundle and the profiles, pushed through NATS: every running node serves the bundle within ServeWithin.
            // Version 1 explicitly (edgesel numbers bundles by the UTC clock by default): the trainer's is then newer.
            Cli.Ok("bundle", "--catalog", Path.Combine(AppContext.BaseDirectory, "demo-catalog.json"), "--models", models, "--key-file", keyFile, "--version", "1");
            var profiles = Path.Combine(root, "profiles.jsonl");
            File.WriteAllLines(profiles, Enumerable.Range(1, 400).Select(m => string.Create(CultureInfo.InvariantCulture,
                $$$"""{"memberId":{{{m}}},"country":"US","language":"EN","device":"tv","genres":{"comedy":{{{(m % 10) / 10.0}}},"drama":0.5}}""")));
            Cli.Ok("profiles", "import", profiles, "--nats", nats.Url, "--batch", "50");
            var pushed = Stopwatch.StartNew();
            Cli.Ok("push", "--models", models, "--nats", nats.Url);
            foreach (var node in nodes.Take(2))
            {
                await Wait.UntilAsync(async () => await node.GetAsync("/readyz") is { Status: HttpStatusCode.OK } ready && ready.Body.Contains("\"bundle\":1,", StringComparison.Ordinal), TimeSpan.FromSeconds(180), $"node {node.NodeId} ready on bundle 1", node.Log);
            }

            output.WriteLine($"bundle 1 served by nodes 1 and 2 {pushed.Elapsed.TotalSeconds:F1} s after the push (includes their start-up)");

            // 2. The node started last catches up on the bundle and every profile batch before it reports ready.
            long streamLast;
            await using (var connection = await FleetConnection.ConnectAsync(nats.Url, "test", TimeSpan.FromSeconds(5)))
            {
                streamLast = (long)await new ProfileChannel(connection).LastSequenceAsync();
            }

            Assert.Equal(8, streamLast);
            nodes[2].Start();
            await Wait.UntilAsync(async () => (await nodes[2].GetAsync("/readyz")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(180), "node 3 ready", nodes[2].Log);
            Assert.Equal(1, await nodes[2].MetricAsync("edgeselector_model_bundle_version{which=\"active\"}"));
            Assert.Equal(streamLast, await nodes[2].MetricAsync("edgeselector_fleet_profile_position"));

            // 3. Traffic through all three nodes, each reward sent to the next node; kill -9 of a NATS server, then of node 2.
            var ledger = new Ledger();
            var up = new[] { true, true, true };
            using var stop = new CancellationTokenSource();
            var clients = nodes.Select(n => n.Client()).ToArray();
            var drivers = Enumerable.Range(0, 3).Select(i => Task.Run(() => DriveAsync(i, clients, up, ledger, stop.Token))).ToArray();
            await Task.Delay(3000);
            nats.Kill(0);
            output.WriteLine($"killed nats-server 0 after {ledger.Impressions.Count} acknowledged impressions");
            await Task.Delay(2000);

            // Node 2 stops receiving, and what it acknowledged is committed (lag 0), then SIGKILL while the others serve.
            up[1] = false;
            await Task.Delay(300);
            await Wait.UntilAsync(async () => await nodes[1].MetricAsync("edgeselector_impression_log_lag_bytes") == 0, TimeSpan.FromSeconds(30), "node 2's log committed");
            await Task.Delay(200);
            nodes[1].Kill9();
            await clients[1].DisposeAsync();
            output.WriteLine($"killed node 2 (backlog not yet shipped is in its log) after {ledger.Impressions.Count} acknowledged impressions");
            await Task.Delay(2000);
            nats.Restart(0);
            nodes[1].Start();
            await Wait.UntilAsync(async () => (await nodes[1].GetAsync("/readyz")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(180), "node 2 ready again", nodes[1].Log);
            clients[1] = nodes[1].Client();
            up[1] = true;

            // The trainer runs while traffic goes on (nothing closes: everything waits in its pending join).
            var first = Cli.Ok("train", "--nats", nats.Url, "--models", models, "--key-file", keyFile, "--no-publish");
            output.WriteLine("trainer run 1: " + first.Out + first.Err);
            await Task.Delay(3000);
            stop.Cancel();
            await Task.WhenAll(drivers);
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }

            Assert.True(ledger.Impressions.Count > 500, $"only {ledger.Impressions.Count} impressions acknowledged");
            Assert.True(ledger.Rewards.Count > 50, $"only {ledger.Rewards.Count} rewards acknowledged");

            // 4. Every node ships its backlog.
            foreach (var node in nodes)
            {
                await Wait.UntilAsync(
                    async () => await node.MetricAsync("edgeselector_fleet_shipping_lag_bytes{log=\"impressions\"}") == 0
                        && await node.MetricAsync("edgeselector_fleet_shipping_lag_bytes{log=\"rewards\"}") == 0,
                    TimeSpan.FromSeconds(120), $"node {node.NodeId} shipped everything", node.Log);
            }

            // 5. The trainer again, a day and more later: every window closes. Each acknowledged impression is one example,
            // with what was served and the label of its acknowledged reward, whichever node took the reward.
            var asOf = DateTimeOffset.UtcNow.AddDays(2).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
            var second = Cli.Ok("train", "--nats", nats.Url, "--models", models, "--key-file", keyFile, "--as-of", asOf, "--examples-out", examplesCsv);
            output.WriteLine("trainer run 2: " + second.Out + second.Err);
            var examples = File.ReadAllLines(examplesCsv).Skip(1).Select(Example.Parse).ToList();
            var byId = examples.GroupBy(e => e.EventId).ToDictionary(g => g.Key, g => g.ToList());
            Assert.All(byId, kv => Assert.True(kv.Value.Count == 1, $"event {kv.Key} reached the training set {kv.Value.Count} times"));
            var missing = ledger.Impressions.Keys.Where(id => !byId.ContainsKey(id)).ToList();
            Assert.True(missing.Count == 0, $"{missing.Count} acknowledged impressions are missing from the training set, e.g. {string.Join(", ", missing.Take(5))} (node {(missing.Count > 0 ? missing[0] >> 52 : 0)})");
            var crossNode = 0;
            foreach (var (id, served) in ledger.Impressions)
            {
                var example = byId[id][0];
                Assert.Equal((served.TitleId, served.ImageId, (double)served.Propensity), (example.TitleId, example.ImageId, example.Propensity));
                if (ledger.Rewards.TryGetValue(id, out var reward))
                {
                    Assert.True(example.Label == reward.Quality, $"event {id}: label {example.Label}, acknowledged reward quality {reward.Quality}");
                    crossNode += reward.Node != (int)(id >> 52) ? 1 : 0;
                }
                else if (!ledger.Unsure.ContainsKey(id))
                {
                    Assert.False(example.Label, $"event {id} has no reward but a positive label");
                }
            }

            Assert.True(crossNode == ledger.Rewards.Count, "every reward went to another node than its impression");
            output.WriteLine($"{ledger.Impressions.Count} acknowledged impressions, {ledger.Rewards.Count} acknowledged rewards (all on another node); {examples.Count} examples; {ledger.Failures} requests failed during the kills");

            // 6. The trainer published its bundle (the next version: the UTC clock, docs/cli.md): every node serves it;
            // rollback is a re-point.
            var trained = new BundleRepository(models).LatestVersion();
            Assert.True(trained > 1, $"the trainer wrote bundle {trained}");
            Assert.Contains($"bundle {trained} published to the fleet", second.Err, StringComparison.Ordinal);
            foreach (var node in nodes)
            {
                var took = await Wait.UntilAsync(async () => await node.MetricAsync("edgeselector_model_bundle_version{which=\"active\"}") == trained, ServeWithin, $"node {node.NodeId} on bundle {trained}", node.Log);
                output.WriteLine($"node {node.NodeId} serves bundle {trained} within {took.TotalSeconds:F1} s of the trainer's publish");
            }

            // Every node's dashboard shows the whole fleet on it: the three nodes (not node 2's former instance, whose
            // heartbeat is still in the bucket), each with the version it applied, and the pointer (docs/dashboard.md).
            foreach (var node in nodes)
            {
                await DashboardShowsFleetOnAsync(node, trained);
            }

            Cli.Ok("rollback", "--nats", nats.Url);
            foreach (var node in nodes)
            {
                await Wait.UntilAsync(async () => await node.MetricAsync("edgeselector_model_bundle_version{which=\"active\"}") == 1, ServeWithin, $"node {node.NodeId} back on bundle 1", node.Log);
            }

            foreach (var node in nodes)
            {
                await DashboardShowsFleetOnAsync(node, 1);
            }

            var status = Cli.Run("fleet", "status", "--nats", nats.Url);
            output.WriteLine(status.Out);
            Assert.Contains("3 live node(s), 0 flagged", status.Out, StringComparison.Ordinal);

            // A third run finds nothing new: idempotent.
            var third = Cli.Ok("train", "--nats", nats.Url, "--models", models, "--key-file", keyFile, "--as-of", asOf, "--examples-out", examplesCsv, "--no-publish");
            Assert.Contains("examples 0", third.Out, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            Directory.Delete(root, recursive: true);
        }
    }

    // GET /dashboard/stats on the node until its fleet section lists nodes 1, 2 and 3, each on version, with the pointer
    // on version: the heartbeats reach the dashboard within a few heartbeat intervals (1 s here).
    private async Task DashboardShowsFleetOnAsync(EdgeNode node, ulong version)
    {
        var last = string.Empty;
        var took = await Wait.UntilAsync(
            async () =>
            {
                var (status, body) = await node.GetAsync("/dashboard/stats");
                last = body;
                if (status != HttpStatusCode.OK)
                {
                    return false;
                }

                using var json = JsonDocument.Parse(body);
                if (!json.RootElement.TryGetProperty("fleet", out var fleet) || fleet.ValueKind != JsonValueKind.Object)
                {
                    return false;
                }

                var shown = fleet.GetProperty("nodes").EnumerateArray()
                    .Select(n => (Id: n.GetProperty("nodeId").GetInt32(), Applied: n.GetProperty("appliedVersion").GetUInt64()))
                    .ToList();
                return fleet.GetProperty("self").GetInt32() == node.NodeId
                    && fleet.TryGetProperty("pointer", out var pointer) && pointer.ValueKind == JsonValueKind.Object
                    && pointer.GetProperty("version").GetUInt64() == version
                    && shown.Select(n => n.Id).SequenceEqual([1, 2, 3])
                    && shown.All(n => n.Applied == version);
            },
            TimeSpan.FromSeconds(30),
            string.Create(CultureInfo.InvariantCulture, $"node {node.NodeId}'s dashboard showing nodes 1-3 on bundle {version}"),
            () => "last /dashboard/stats: " + last);
        output.WriteLine($"node {node.NodeId}'s dashboard shows the fleet on bundle {version} ({took.TotalSeconds:F1} s)");
    }

    private static async Task DriveAsync(int i, EdgeSelectorClient[] clients, bool[] up, Ledger ledger, CancellationToken stop)
    {
        var candidates = Titles.Select(t => new TitleCandidate(t, 0.5f, false)).ToArray();
        var random = new Random(i);
        var results = new SelectResult[candidates.Length];
        var node = i + 1;
        while (!stop.IsCancellationRequested)
        {
            if (!Volatile.Read(ref up[i]))
            {
                await Task.Delay(50, CancellationToken.None);
                continue;
            }

            var context = new RequestContext
            {
                MemberId = (ulong)random.Next(1, 401),
                Country = Core.Features.CountryCode.Pack("US"),
                Language = Core.Features.CountryCode.Pack("EN"),
                Device = Core.Features.DeviceClass.Tv,
                HourOfDay = 21,
                DayOfWeek = 5,
            };
            try
            {
                await clients[i].SelectPageAsync(context, candidates, results);
            }
            catch (Exception e) when (e is TimeoutException or EdgeSelectorConnectionException or EdgeSelectorProtocolException or ObjectDisposedException)
            {
                Interlocked.Increment(ref ledger.Failures);
                continue;
            }

            foreach (var r in results)
            {
                ledger.Impressions[r.EventId] = (r.TitleId, r.ImageId, r.Propensity);
            }

            // Rewards for some of them, each to the next node (not the one that served the impression).
            var target = (i + 1) % 3;
            foreach (var r in results)
            {
                if (random.NextDouble() > 0.3 || !Volatile.Read(ref up[target]))
                {
                    continue;
                }

                var quality = random.NextDouble() < 0.5;
                try
                {
                    var status = await clients[target].RewardAsync(new RewardRequest(r.EventId, true, quality ? 30 : 2, quality ? 0.5f : 0.05f));
                    if (status == RewardStatus.Accepted)
                    {
                        ledger.Rewards[r.EventId] = (target + 1, quality);
                    }
                    else
                    {
                        ledger.Unsure[r.EventId] = 0;
                    }
                }
                catch (Exception e) when (e is TimeoutException or EdgeSelectorConnectionException or EdgeSelectorProtocolException or ObjectDisposedException)
                {
                    ledger.Unsure[r.EventId] = 0; // sent, not acknowledged: the label may go either way
                    Interlocked.Increment(ref ledger.Failures);
                }
            }
        }

        _ = node;
    }

    private sealed class Ledger
    {
        public readonly ConcurrentDictionary<ulong, (uint TitleId, uint ImageId, float Propensity)> Impressions = new();
        public readonly ConcurrentDictionary<ulong, (int Node, bool Quality)> Rewards = new();
        public readonly ConcurrentDictionary<ulong, byte> Unsure = new();
        public long Failures;
    }

    private readonly record struct Example(ulong EventId, uint TitleId, uint ImageId, double Propensity, bool Label)
    {
        public static Example Parse(string line)
        {
            var f = line.Split(',');
            var ci = CultureInfo.InvariantCulture;
            return new Example(ulong.Parse(f[0], ci), uint.Parse(f[2], ci), uint.Parse(f[3], ci), double.Parse(f[4], ci), f[6] == "1");
        }
    }
}
