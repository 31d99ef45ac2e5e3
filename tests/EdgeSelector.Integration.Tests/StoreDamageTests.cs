using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Training;
using EdgeSelector.Storage.Impressions;
using Xunit.Abstractions;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// Damage is never silent (issue 10, docs/reliability.md): every file of a node's data directory — models (log,
/// hash index, checkpoints, integrity records), profiles, the impression and reward logs (segments, commit records,
/// format markers) — is flipped, truncated, emptied and deleted in turn, and the node restarted (with Demo on, as in
/// the crash the issue reports). Each restart must start (no crash) and either keep everything or report the damage
/// on /healthz, naming the store.
/// </summary>
public sealed class StoreDamageTests(ITestOutputHelper output) : IDisposable
{
    private const ulong ImportedMember = 777001;

    // Small hash indexes: every restart reads and checks them, and every shutdown checkpoint writes them.
    private static readonly string[] Small = ["--EdgeSelector:ModelIndexMB=1", "--EdgeSelector:ProfileIndexMB=1", "--EdgeSelector:ShutdownTimeoutSeconds=6"];
    private readonly string _root = Path.Combine(Path.GetTempPath(), "es-damage-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task EveryStoreFile_FlippedTruncatedEmptiedDeleted_NodeStartsAndKeepsEverythingOrReportsIt()
    {
        var template = Path.Combine(_root, "template");
        var (impressions, rewards) = await BuildTemplate(template);
        var files = Directory.GetFiles(template, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(template, f))
            .Order(StringComparer.Ordinal)
            .ToList();
        foreach (var store in new[] { "models/log", "models/checkpoints", "models/integrity", "profiles/log", "profiles/checkpoints", "impressions/log", "impressions/commits", "rewards/log", "rewards/commits" })
        {
            Assert.True(files.Any(f => f.StartsWith(store, StringComparison.Ordinal)), $"no {store} file among {string.Join(", ", files)}");
        }

        var failures = new List<string>();
        var cases = 0;
        foreach (var file in files)
        {
            foreach (var damage in Damages)
            {
                var dataDir = Path.Combine(_root, $"case-{cases}");
                CopyDirectory(template, dataDir);
                if (!Apply(Path.Combine(dataDir, file), damage))
                {
                    continue;
                }

                cases++;
                var verdict = await Restart(dataDir, file, impressions, rewards);
                output.WriteLine($"{damage,-8} {file}: {verdict.Outcome}");
                if (verdict.Failure is { } failure)
                {
                    failures.Add($"{damage} {file}: {failure}");
                }

                Directory.Delete(dataDir, recursive: true);
            }
        }

        output.WriteLine($"{cases} damaged restarts");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Theory]
    [InlineData("[{\"version\":1,\"titles\":12,\"metrics\":\"{}\"},{\"version\":5,\"parentVersion\":1,\"titles\":12,\"full\":true,\"metrics\":\"{}\"}]", false)]
    [InlineData("[{\"version\":1,\"titl", true)]
    public async Task LegacyFiles_AreMigratedIntoTheModelStore_OrReportedWhenDamaged(string bundlesJson, bool damaged)
    {
        var dataDir = Path.Combine(_root, "legacy");
        await using (var first = await LiveServer.StartAsync(dataDir, demo: true, keepData: true))
        {
        }

        // What an older version left beside the stores: the bundle history and the default images (title 4242 → 424201).
        File.WriteAllText(Path.Combine(dataDir, "bundles.json"), bundlesJson);
        File.WriteAllBytes(Path.Combine(dataDir, "default-images.bin"), [0x92, 0x10, 0, 0, 0x09, 0x79, 0x06, 0, 1, 2, 3]);

        await using var server = await LiveServer.StartAsync(dataDir, demo: true);
        var models = await server.Http.GetStringAsync("/v1/models");
        var health = await server.Anonymous.GetStringAsync("/healthz");
        Assert.False(File.Exists(Path.Combine(dataDir, "bundles.json")));
        Assert.False(File.Exists(Path.Combine(dataDir, "default-images.bin")));
        Assert.True(File.Exists(Path.Combine(dataDir, "default-images.bin.damaged")), "the 11-byte file holds a partial entry: reported and kept aside");
        Assert.Contains("default-images.bin", health);
        if (damaged)
        {
            Assert.True(File.Exists(Path.Combine(dataDir, "bundles.json.damaged")));
            Assert.Contains("bundles.json", health);
        }
        else
        {
            Assert.True(File.Exists(Path.Combine(dataDir, "bundles.json.migrated")));
            Assert.Contains("\"version\":5", models);
        }

        // The migrated default answers a title no bundle has: reason no_model with its default image.
        var select = await server.Http.PostAsync("/v1/select", new StringContent("{\"memberId\":1,\"titles\":[{\"titleId\":4242}]}"));
        var body = await select.Content.ReadAsStringAsync();
        Assert.Contains("\"imageId\":424201", body);
        Assert.Contains("\"reason\":\"no_model\"", body);
    }

    [Fact]
    public async Task Train_OnADamagedLog_ExitsWith1AndNamesTheFile()
    {
        var dataDir = Path.Combine(_root, "train");
        await BuildTemplate(dataDir);
        var segment = Directory.GetFiles(Path.Combine(dataDir, "impressions", "log"), "impressions.log.*").Order(StringComparer.Ordinal).Last();
        Assert.True(Apply(segment, "flip"));

        using var ws = new Cli.Workspace();
        var catalog = ws.File_("catalog.json");
        File.WriteAllText(catalog, JsonSerializer.Serialize(new LoopWorld(titles: 4, members: 10).Catalog, CatalogJsonContext.Default.CatalogDocument));
        var bundle = Cli.Run("bundle", "--catalog", catalog, "--models", ws.Models, "--key-file", ws.KeyFile);
        Assert.True(bundle.Exit == 0, bundle.Err);
        var asOf = DateTimeOffset.UtcNow.AddHours(25).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var train = Cli.Run("train", "--data-dir", dataDir, "--models", ws.Models, "--key-file", ws.KeyFile, "--as-of", asOf);
        Assert.True(train.Exit == 1, $"exit {train.Exit}\n{train.Err}");
        Assert.Contains(Path.GetFileName(segment), train.Err);
        Assert.DoesNotContain("   at ", train.Err); // a message, not a stack trace
    }

    /// <summary>A node with two pushes, an imported profile, impressions and rewards, stopped gracefully.</summary>
    private static async Task<(int Impressions, int Rewards)> BuildTemplate(string dataDir)
    {
        await using (var server = await LiveServer.StartAsync(dataDir, demo: true, keepData: true, Small))
        {
            Assert.Equal(HttpStatusCode.OK, (await server.Http.PutAsync("/v1/models", new ByteArrayContent(ServerTests.Bundle(2, ServerTests.TitleWithWinner(1003, 2, 100302))))).StatusCode);
            var profile = $"{{\"profiles\":[{{\"memberId\":{ImportedMember},\"country\":\"DE\",\"genres\":{{\"scifi\":0.9}}}}]}}";
            Assert.Equal(HttpStatusCode.OK, (await server.Http.PutAsync("/v1/profiles", new StringContent(profile, Encoding.UTF8, "application/json"))).StatusCode);
            var eventIds = new List<(string Id, string Tag)>();
            for (var m = 1; m <= 40; m++)
            {
                var select = await server.Http.PostAsync("/v1/select", new StringContent($"{{\"memberId\":{m},\"titles\":[{{\"titleId\":1001}},{{\"titleId\":1002}}]}}"));
                using var json = JsonDocument.Parse(await select.Content.ReadAsStringAsync());
                eventIds.AddRange(json.RootElement.GetProperty("results").EnumerateArray().Select(r => (r.GetProperty("eventId").GetString()!, r.GetProperty("eventTag").GetString()!)));
            }

            var rewards = string.Join(",", eventIds.Take(30).Select(e => $"{{\"eventId\":\"{e.Id}\",\"eventTag\":\"{e.Tag}\",\"playStarted\":true,\"minutesWatched\":3}}"));
            Assert.Equal(HttpStatusCode.OK, (await server.Http.PostAsync("/v1/rewards", new StringContent($"{{\"rewards\":[{rewards}]}}"))).StatusCode);
        }

        return (CountEntries(Path.Combine(dataDir, "impressions")), CountEntries(Path.Combine(dataDir, "rewards")));
    }

    private static async Task<(string Outcome, string? Failure)> Restart(string dataDir, string file, int impressions, int rewards)
    {
        LiveServer server;
        try
        {
            server = await LiveServer.StartAsync(dataDir, demo: true, keepData: true, Small);
        }
#pragma warning disable CA1031 // The test's point: any exception at start is the failure being looked for.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return ("crash", $"the node did not start: {e.GetType().Name}: {e.Message}");
        }

        await using (server)
        {
            var store = file.Split('/')[0];
            using var health = JsonDocument.Parse(await server.Anonymous.GetStringAsync("/healthz"));
            var reported = health.RootElement.GetProperty("conditions").EnumerateArray()
                .Any(c => c.GetProperty("component").GetString() == store || c.GetProperty("reason").GetString()!.Contains(store, StringComparison.Ordinal));
            var intact = store switch
            {
                "models" => JsonDocument.Parse(await server.Http.GetStringAsync("/v1/models")).RootElement.GetProperty("activeVersion").GetUInt64() == 2,
                "profiles" => (await (await server.Http.PostAsync("/v1/select", new StringContent($"{{\"memberId\":{ImportedMember},\"titles\":[{{\"titleId\":1001}}]}}"))).Content.ReadAsStringAsync()).Contains("\"reason\":\"none\"", StringComparison.Ordinal),
                "impressions" => SafeCount(Path.Combine(dataDir, "impressions")) >= impressions,
                "rewards" => SafeCount(Path.Combine(dataDir, "rewards")) >= rewards,
                _ => false,
            };

            return (reported ? "reported" : intact ? "intact" : "SILENT", reported || intact ? null : "neither intact nor reported on /healthz");
        }
    }

    private static int SafeCount(string directory)
    {
        try
        {
            return CountEntries(directory);
        }
        catch (IOException)
        {
            return -1; // LogDamagedException is an IOException: not intact
        }
    }

    private static int CountEntries(string directory)
    {
        using var log = ImpressionLogSnapshotReader.Open(directory);
        var count = new Counter();
        log.ReadFrom(0, count);
        return count.Box.Value;
    }

    private sealed class Box
    {
        public int Value;
    }

    private readonly struct Counter() : IImpressionConsumer
    {
        public Box Box { get; } = new();

        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress) => Box.Value++;
    }
}
