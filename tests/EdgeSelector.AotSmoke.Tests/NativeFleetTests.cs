using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeSelector.Client;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Logging;
using EdgeSelector.Fleet;
using EdgeSelector.Fleet.Bundles;
using EdgeSelector.Fleet.Events;
using EdgeSelector.Fleet.Profiles;
using EdgeSelector.Protocol;

namespace EdgeSelector.AotSmoke.Tests;

/// <summary>
/// The native binary in a fleet: NATS.Net's KV watch, Object Store download, ordered consumer and JetStream publish all
/// run under native AOT (docs/aot.md, docs/fleet.md). One nats-server (the Debian package) on a free port.
/// </summary>
public sealed class NativeFleetTests
{
    [Fact]
    public async Task NativeBinary_InAFleet_AppliesThePointedBundle_FollowsProfiles_ShipsItsEvents()
    {
        var binary = Environment.GetEnvironmentVariable("EDGESELECTOR_BINARY");
        Assert.False(string.IsNullOrEmpty(binary), "set EDGESELECTOR_BINARY to the published edgeselector binary (.ci/run does)");
        var root = Path.Combine(Path.GetTempPath(), "es-aot-fleet-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var natsPort = NativeBinaryTests.FreePort();
        var url = string.Create(CultureInfo.InvariantCulture, $"nats://127.0.0.1:{natsPort}");
        Process? nats = null;
        Process? server = null;
        try
        {
            var natsBinary = new[] { "/usr/sbin/nats-server", "/usr/bin/nats-server" }.FirstOrDefault(File.Exists) ?? "nats-server";
            var info = new ProcessStartInfo(natsBinary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "-a", "127.0.0.1", "-p", natsPort.ToString(CultureInfo.InvariantCulture), "-js", "-sd", Path.Combine(root, "nats") })
            {
                info.ArgumentList.Add(arg);
            }

            nats = Process.Start(info)!;
            nats.OutputDataReceived += (_, _) => { };
            nats.ErrorDataReceived += (_, _) => { };
            nats.BeginOutputReadLine();
            nats.BeginErrorReadLine();

            FleetConnection? connection = null;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (connection is null)
            {
                try
                {
                    connection = await FleetConnection.ConnectAsync(url, "aot-smoke", TimeSpan.FromSeconds(2));
                }
                catch (FleetException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(200);
                }
            }

            await using var _ = connection;
            await connection.InitTopologyAsync(new FleetTopology { Replicas = 1 });
            var bundle = ModelBundle.Write(new BundleManifest { Version = 2, ParentVersion = 1, Full = false }, [NativeBinaryTests.Winner(1003, 2, 100302)], Encoding.UTF8.GetBytes(NativeBinaryTests.Key));
            await new BundleChannel(connection).PublishAsync(bundle, 2);
            await new ProfileChannel(connection).PublishAsync(
                "{\"profiles\":[{\"memberId\":424242,\"country\":\"DE\",\"device\":\"web\",\"genres\":{\"scifi\":0.9}}]}"u8.ToArray(), "aot-1");

            var (binaryPort, adminPort) = (NativeBinaryTests.FreePort(), NativeBinaryTests.FreePort());
            server = NativeBinaryTests.Start(binary!, Path.Combine(root, "node"), binaryPort, adminPort, true, $"--EdgeSelector:Nats:Url={url}", "--EdgeSelector:NodeId=7");

            // Ready means caught up: the pointer's bundle 2 (partial, over the demo's bundle 1) and the profile are in.
            using var http = await NativeBinaryTests.ReadyClient(adminPort, server);
            await using var client = new EdgeSelectorClient(new EdgeSelectorClientOptions { EndPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, binaryPort) });
            var served = await client.SelectAsync(NativeBinaryTests.Context(1), new TitleCandidate(1003, 0.5f, false));
            Assert.Equal((100302u, 2ul), (served.ImageId, served.ModelVersion));
            var select = await http.PostAsync("/v1/select", new StringContent("{\"memberId\":424242,\"titles\":[{\"titleId\":1010}]}"));
            Assert.Contains("\"reason\":\"none\"", await select.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            for (ulong m = 1; m <= 50; m++)
            {
                await client.SelectAsync(NativeBinaryTests.Context(m), new TitleCandidate(1001, 0.5f, false));
            }

            // Shipped: the node's entries arrive in ES_IMPRESSIONS, packed, readable with the shared record reader.
            var fetcher = await EventFetcher.OpenAsync(connection, EventKind.Impressions, "aot-smoke");
            var ids = new List<ulong>();
            deadline = DateTime.UtcNow.AddSeconds(60);
            while (ids.Count < 51 && DateTime.UtcNow < deadline)
            {
                foreach (var msg in await fetcher.FetchAvailableAsync(100))
                {
                    var collect = new Collect(ids);
                    EventBatch.ForEach(msg.Data ?? [], ref collect);
                }

                await Task.Delay(200);
            }

            Assert.True(ids.Count >= 51, $"{ids.Count} impressions shipped");
            Assert.All(ids, id => Assert.Equal(7ul, id >> 52));
        }
        finally
        {
            foreach (var p in new[] { server, nats })
            {
                if (p is { HasExited: false })
                {
                    p.Kill(entireProcessTree: true);
                    p.WaitForExit(10_000);
                }

                p?.Dispose();
            }

            Directory.Delete(root, recursive: true);
        }
    }

    private readonly struct Collect(List<ulong> ids) : IEntryConsumer
    {
        public void Consume(ReadOnlySpan<byte> entry)
        {
            if (!ImpressionEntry.TryRead(entry, out var impressions))
            {
                return;
            }

            foreach (var impression in impressions)
            {
                ids.Add(impression.EventId);
            }
        }
    }
}
