using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Fleet.Bundles;
using EdgeSelector.Fleet.Profiles;
using EdgeSelector.Learning.Training;
using Xunit.Abstractions;

namespace EdgeSelector.Fleet.Tests;

/// <summary>
/// Bad input reaches a fleet (issue 11, docs/fleet.md "Failure table"): a clear error, never a crash, and the node keeps
/// serving. One nats-server and real edge-node processes; bounded; everything removed at the end.
/// </summary>
public sealed class FleetFaultTests(ITestOutputHelper output)
{
    [Fact]
    public void FleetInit_OnAClusterTooSmallForTheReplicas_WaitsThenSaysWhy()
    {
        // Two JetStream servers cannot hold three replicas: init retries while the cluster might still be forming, then
        // gives up after --wait with the reason (exit 1, no stack trace); the same cluster takes one replica at once.
        using var nats = new NatsCluster(2);
        var tooMany = Cli.Run("fleet", "init", "--nats", nats.Url, "--replicas", "3", "--wait", "2");
        Assert.True(tooMany.Exit == 1, $"exit {tooMany.Exit}\n{tooMany.Out}\n{tooMany.Err}");
        Assert.Contains("cannot place 3 replica(s)", tooMany.Err, StringComparison.Ordinal);
        Assert.Contains("after waiting 2 s", tooMany.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", tooMany.Err, StringComparison.Ordinal);

        Cli.Ok("fleet", "init", "--nats", nats.Url, "--replicas", "1");
    }

    [Fact]
    public async Task BadBundlesAndBatches_AreRefusedWithTheReason_UnreachableOrUninitialisedNats_ClearErrors_NodesKeepServing()
    {
        var root = Path.Combine(Path.GetTempPath(), "es-fleet-faults-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        EdgeNode? node = null;
        EdgeNode? isolated = null;
        try
        {
            using var nats = new NatsCluster(1);
            var deadUrl = $"nats://127.0.0.1:{NatsCluster.FreePort()}";

            // A node whose NATS never answers serves its local checkpoint once the catch-up timeout has passed.
            isolated = new EdgeNode(9, deadUrl, root, "--EdgeSelector:Demo=true", "--EdgeSelector:Nats:CatchUpTimeoutSeconds=2");
            isolated.Start();
            node = new EdgeNode(1, nats.Url, root);
            node.Start();

            var keyFile = Path.Combine(root, "bundle.key");
            File.WriteAllText(keyFile, EdgeNode.BundleKey);
            var models = Path.Combine(root, "models");
            var catalog = Path.Combine(AppContext.BaseDirectory, "demo-catalog.json");
            Cli.Ok("bundle", "--catalog", catalog, "--models", models, "--key-file", keyFile, "--version", "1");

            // Unreachable NATS and a fleet that was never initialised: exit 1 with what to do, no stack trace.
            var unreachable = Cli.Run("push", "--models", models, "--nats", deadUrl);
            Assert.Equal(1, unreachable.Exit);
            Assert.Contains($"cannot reach NATS at {deadUrl}", unreachable.Err, StringComparison.Ordinal);
            foreach (var args in new[] { new[] { "push", "--models", models }, ["train", "--models", models, "--key-file", keyFile], ["fleet", "status"] })
            {
                var missing = Cli.Run([.. args, "--nats", nats.Url]);
                Assert.True(missing.Exit == 1, $"edgesel {args[0]}: exit {missing.Exit}\n{missing.Err}");
                Assert.Contains("edgesel fleet init", missing.Err, StringComparison.Ordinal);
                Assert.DoesNotContain("   at ", missing.Err, StringComparison.Ordinal);
            }

            Cli.Ok("fleet", "init", "--nats", nats.Url, "--replicas", "1");
            Cli.Ok("push", "--models", models, "--nats", nats.Url);
            await Wait.UntilAsync(async () => await node.GetAsync("/readyz") is { Status: HttpStatusCode.OK } ready && ready.Body.Contains("\"bundle\":1,", StringComparison.Ordinal), TimeSpan.FromSeconds(180), "node ready on bundle 1", node.Log);

            // A bundle signed with another key, a correctly signed bundle with a corrupt model, a pointer whose digest
            // does not match its object: each refused, with its reason in the log and the metrics; bundle 1 stays.
            var otherKey = Path.Combine(root, "other.key");
            File.WriteAllText(otherKey, "not-the-fleet-key");
            var wrongKey = Path.Combine(root, "wrong");
            Cli.Ok("bundle", "--catalog", catalog, "--models", wrongKey, "--key-file", otherKey, "--version", "2");
            Cli.Ok("push", "--models", wrongKey, "--nats", nats.Url);
            await ExpectRefusal(node, "signature", 1);

            var (manifest, titleModels) = BundleRepository.Read(new BundleRepository(models).PathOf(1), Encoding.UTF8.GetBytes(EdgeNode.BundleKey));
            var blobs = titleModels.Values.Select(m => m.Serialize()).ToList();
            blobs[0][^1] ^= 0x01;
            var corrupt = Path.Combine(root, "corrupt.esb");
            File.WriteAllBytes(corrupt, ModelBundle.Write(manifest with { Version = 3 }, blobs, Encoding.UTF8.GetBytes(EdgeNode.BundleKey)));
            Cli.Ok("push", "--bundle", corrupt, "--nats", nats.Url);
            await ExpectRefusal(node, "model", 1);

            await using (var connection = await FleetConnection.ConnectAsync(nats.Url, "test", TimeSpan.FromSeconds(5)))
            {
                var channel = new BundleChannel(connection);
                var good = File.ReadAllBytes(new BundleRepository(models).PathOf(1));
                var rewritten = ModelBundle.Write(manifest with { Version = 4 }, [.. titleModels.Values.Select(m => m.Serialize())], Encoding.UTF8.GetBytes(EdgeNode.BundleKey));
                var pointer = await channel.PublishAsync(rewritten, 4);
                await ExpectRefusalOrServed(node, 4); // a genuine bundle 4 is applied ...
                var kv = await connection.GetBucketAsync(FleetNames.PointerBucket);
                var lying = pointer with { Version = 5, Sha256 = BundleChannel.Sha256Hex(good) };
                await kv.PutAsync(FleetNames.BundlePointerKey, JsonSerializer.SerializeToUtf8Bytes(lying, FleetJsonContext.Default.BundlePointer));
                await ExpectRefusal(node, "digest", 4); // ... a pointer whose digest does not match the object is not

                // A profile batch that does not parse is skipped (and counted); the next one is applied.
                var profiles = new ProfileChannel(connection);
                await profiles.PublishAsync("this is not a profile batch"u8.ToArray(), "bad-1");
                var last = await profiles.PublishAsync("""{"profiles":[{"memberId":77,"country":"US","genres":{"comedy":0.9}}]}"""u8.ToArray(), "good-1");
                await Wait.UntilAsync(async () => await node.MetricAsync("edgeselector_fleet_profile_position") == last, TimeSpan.FromSeconds(30), "profile position at the last batch", node.Log);
                Assert.Equal(1, await node.MetricAsync("edgeselector_fleet_profile_batches_total{result=\"refused\"}"));
                Assert.Equal(1, await node.MetricAsync("edgeselector_fleet_profile_batches_total{result=\"applied\"}"));
                Assert.Contains("profile batch 1 refused and skipped: not a profile batch", node.Log(), StringComparison.Ordinal);
            }

            // Still serving, still ready.
            Assert.Equal(HttpStatusCode.OK, (await node.GetAsync("/readyz")).Status);
            await Wait.UntilAsync(async () => (await isolated.GetAsync("/readyz")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(180), "the isolated node ready on its local bundle", isolated.Log);
            Assert.Equal(0, await isolated.MetricAsync("edgeselector_fleet_connected"));
            Assert.Contains("serving the local checkpoint", isolated.Log(), StringComparison.Ordinal);
            output.WriteLine(node.Log());
        }
        finally
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }

            if (isolated is not null)
            {
                await isolated.DisposeAsync();
            }

            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task ExpectRefusal(EdgeNode node, string reason, ulong stillServing)
    {
        await Wait.UntilAsync(
            async () => await node.MetricAsync($"edgeselector_fleet_bundles_refused_total{{reason=\"{reason}\"}}") >= 1,
            TimeSpan.FromSeconds(30), $"a refusal for {reason}", node.Log);
        Assert.Equal(stillServing, (ulong)await node.MetricAsync("edgeselector_model_bundle_version{which=\"active\"}"));
        // The counter moves just before the refusal is logged, and the console logger writes from its own queue.
        await Wait.UntilAsync(
            () => Task.FromResult(node.Log().Contains($"({reason})", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), $"the refusal for {reason} in the node's log", node.Log);
    }

    private static Task ExpectRefusalOrServed(EdgeNode node, ulong version) =>
        Wait.UntilAsync(
            async () => await node.MetricAsync("edgeselector_model_bundle_version{which=\"active\"}") == version,
            TimeSpan.FromSeconds(30), string.Create(CultureInfo.InvariantCulture, $"bundle {version} served"), node.Log);
}
