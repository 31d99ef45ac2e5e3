using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Training;

namespace EdgeSelector.Integration.Tests;

/// <summary>edgesel bundle / push / rollback / profiles import against a live node over loopback.</summary>
public sealed class CliDeployTests
{
    [Fact]
    public async Task Push_TamperedUnsignedWrongKeyCorruptAndStaleBundles_RefusedAndServedVersionUnchanged_ForceAndRollbackWork()
    {
        using var ws = new Cli.Workspace();
        await using var server = await LiveServer.StartAsync(); // the demo: bundle 1
        var url = $"http://127.0.0.1:{server.AdminPort}";
        var catalog = WriteCatalog(ws);
        Ok(Cli.Run("bundle", "--catalog", catalog, "--models", ws.Models, "--key-file", ws.KeyFile, "--version", "5"));
        var good = new BundleRepository(ws.Models).PathOf(5);
        var bytes = File.ReadAllBytes(good);

        var tampered = ws.File_("tampered.esb");
        var flipped = (byte[])bytes.Clone();
        flipped[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(tampered, flipped);

        var (manifest, models) = BundleRepository.Read(good, Encoding.UTF8.GetBytes(LiveServer.BundleKey));
        var unsigned = ws.File_("unsigned.esb");
        File.WriteAllBytes(unsigned, ModelBundle.Write(manifest, [.. models.Values.Select(m => m.Serialize())], []));

        var otherKey = ws.File_("other.key");
        File.WriteAllText(otherKey, "not-the-server-key");
        var wrongDir = Path.Combine(ws.Path, "wrong");
        Ok(Cli.Run("bundle", "--catalog", catalog, "--models", wrongDir, "--key-file", otherKey, "--version", "6"));

        // Correctly signed, but a model inside is corrupt (signed after the damage): the model check refuses it.
        var corrupt = ws.File_("corrupt.esb");
        var blobs = models.Values.Select(m => m.Serialize()).ToList();
        blobs[0][blobs[0].Length - 1] ^= 0x01;
        File.WriteAllBytes(corrupt, ModelBundle.Write(manifest, blobs, Encoding.UTF8.GetBytes(LiveServer.BundleKey)));

        foreach (var (path, status) in new[] { (tampered, "403"), (unsigned, "403"), (new BundleRepository(wrongDir).PathOf(6), "403"), (corrupt, "422") })
        {
            var push = Cli.Run("push", "--bundle", path, "--server", url, "--token-file", ws.TokenFile);
            Assert.Equal(1, push.Exit);
            Assert.Contains($"refused ({status})", push.Err);
            Assert.Equal(1ul, await ActiveVersion(server));
        }

        Ok(Cli.Run("push", "--bundle", good, "--server", url, "--token-file", ws.TokenFile));
        Assert.Equal(5ul, await ActiveVersion(server));

        // Older than what is served: refused unless forced.
        var staleDir = Path.Combine(ws.Path, "stale");
        Ok(Cli.Run("bundle", "--catalog", catalog, "--models", staleDir, "--key-file", ws.KeyFile, "--version", "3"));
        var stale = Cli.Run("push", "--models", staleDir, "--server", url, "--token-file", ws.TokenFile);
        Assert.Equal(1, stale.Exit);
        Assert.Contains("refused (409)", stale.Err);
        Assert.Equal(5ul, await ActiveVersion(server));
        Ok(Cli.Run("push", "--models", staleDir, "--server", url, "--token-file", ws.TokenFile, "--force"));
        Assert.Equal(3ul, await ActiveVersion(server));

        // Rollback returns to the previous version.
        Ok(Cli.Run("rollback", "--server", url, "--token-file", ws.TokenFile));
        Assert.Equal(5ul, await ActiveVersion(server));

        // A wrong token is refused and changes nothing.
        var badToken = ws.File_("bad.token");
        File.WriteAllText(badToken, "nope");
        Assert.Equal(1, Cli.Run("rollback", "--server", url, "--token-file", badToken).Exit);
        Assert.Equal(5ul, await ActiveVersion(server));
    }

    [Fact]
    public async Task Push_ToTwoServers_BothApply_AndAnUnreachableOneIsReported()
    {
        using var ws = new Cli.Workspace();
        await using var a = await LiveServer.StartAsync();
        await using var b = await LiveServer.StartAsync();
        Ok(Cli.Run("bundle", "--catalog", WriteCatalog(ws), "--models", ws.Models, "--key-file", ws.KeyFile, "--version", "2"));
        Ok(Cli.Run("push", "--models", ws.Models, "--server", $"http://127.0.0.1:{a.AdminPort},http://127.0.0.1:{b.AdminPort}", "--token-file", ws.TokenFile));
        Assert.Equal(2ul, await ActiveVersion(a));
        Assert.Equal(2ul, await ActiveVersion(b));

        var dead = Cli.Run("push", "--models", ws.Models, "--server", "http://127.0.0.1:9", "--token-file", ws.TokenFile);
        Assert.Equal(1, dead.Exit);
        Assert.Contains("unreachable", dead.Err);
    }

    [Fact]
    public async Task ProfilesImport_JsonArrayInBatches_Stored_BadProfileStopsWithItsBatch()
    {
        using var ws = new Cli.Workspace();
        await using var server = await LiveServer.StartAsync(demo: false);
        var url = $"http://127.0.0.1:{server.AdminPort}";
        var array = ws.File_("profiles.json");
        File.WriteAllText(array, "[" + string.Join(",", Enumerable.Range(1, 250).Select(i =>
            "{\"memberId\":" + (100_000 + i) + ",\"country\":\"US\",\"language\":\"EN\",\"device\":\"tv\",\"genres\":{\"comedy\":0.9,\"drama\":0.1}}")) + "]");
        var run = Cli.Run("profiles", "import", array, "--server", url, "--token-file", ws.TokenFile, "--batch", "100");
        Ok(run);
        Assert.Contains("250 profiles stored", run.Out);
        Assert.True(server.Node.Stores.Profiles.TryGet(100_250, out var profile));
        Assert.Equal(0.9f, profile.Genres[Core.Features.Genres.IndexOf("comedy")], 3);

        var bad = ws.File_("bad.jsonl");
        File.WriteAllText(bad, "{\"memberId\":1,\"genres\":{\"comedy\":0.5}}\n\n{\"memberId\":2,\"genres\":{\"noir\":0.5}}\n");
        var refused = Cli.Run("profiles", "import", bad, "--server", url, "--token-file", ws.TokenFile, "--batch", "1");
        Assert.Equal(1, refused.Exit);
        Assert.Contains("batch starting at 3", refused.Err);
        Assert.True(server.Node.Stores.Profiles.TryGet(1, out _));
        Assert.False(server.Node.Stores.Profiles.TryGet(2, out _));
    }

    private static string WriteCatalog(Cli.Workspace ws)
    {
        var path = ws.File_("catalog.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new LoopWorld(titles: 4, members: 10).Catalog, CatalogJsonContext.Default.CatalogDocument));
        return path;
    }

    private static async Task<ulong> ActiveVersion(LiveServer server) =>
        (await server.Http.GetFromJsonAsync<JsonElement>("/v1/models")).GetProperty("activeVersion").GetUInt64();

    private static void Ok((int Exit, string Out, string Err) run) =>
        Assert.True(run.Exit == 0, $"exit {run.Exit}\n{run.Out}\n{run.Err}");
}
