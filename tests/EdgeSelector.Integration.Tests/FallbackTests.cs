using System.Net;
using System.Text;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;

namespace EdgeSelector.Integration.Tests;

/// <summary>Every fallback reason, provoked for real, answered with the default artwork and counted in /metrics.</summary>
public class FallbackTests
{
    private static RequestContext Member(ulong id) => new() { MemberId = id, Country = CountryCode.Pack("US"), Device = DeviceClass.Phone, HourOfDay = 9, DayOfWeek = 1 };

    [Fact]
    public async Task EveryFallbackReason_AnswersTheDefaultImage_AndIsCounted()
    {
        await using var server = await LiveServer.StartAsync();
        await using var client = server.Client();

        // Unknown title: not in any bundle: the "no artwork known" marker.
        var unknown = await client.SelectAsync(Member(1), new TitleCandidate(99999, 0.5f, false));
        Assert.Equal(FallbackReason.UnknownTitle, unknown.Reason);
        Assert.Equal(SelectResult.NoArtwork, unknown.ImageId);

        // No model: a full bundle without title 1012; its default image is still known.
        var full = ModelBundle.Write(
            new BundleManifest { Version = 2, ParentVersion = 1, Full = true },
            [.. Enumerable.Range(1001, 11).Select(t => ServerTests.TitleWithWinner((uint)t, 2, ((uint)t * 100) + 1))],
            Encoding.UTF8.GetBytes(LiveServer.BundleKey));
        Assert.Equal(HttpStatusCode.OK, (await server.Http.PutAsync("/v1/models", new ByteArrayContent(full))).StatusCode);
        var noModel = await client.SelectAsync(Member(1), new TitleCandidate(1012, 0.5f, false));
        Assert.Equal(FallbackReason.NoModel, noModel.Reason);
        Assert.Equal(101201u, noModel.ImageId);

        // Corrupt model: bytes that bypassed the push checks (as a disk fault would) are never scored.
        var corrupt = ServerTests.TitleWithWinner(1011, 3, 101102);
        corrupt[0] ^= 0xFF;
        using (var writer = server.Node.Stores.Models.BeginBundle(3, partial: true))
        {
            writer.Add(1011, corrupt);
            writer.Commit();
        }

        var corrupted = await client.SelectAsync(Member(1), new TitleCandidate(1011, 0.5f, false));
        Assert.Equal(FallbackReason.CorruptModel, corrupted.Reason);
        Assert.Equal(101101u, corrupted.ImageId);

        // No profile: the model still chooses from the context alone, and says so.
        var noProfile = await client.SelectAsync(Member(987654321), new TitleCandidate(1001, 0.5f, false));
        Assert.Equal(FallbackReason.NoProfile, noProfile.Reason);
        Assert.NotEqual(0ul, noProfile.ModelVersion);

        // Internal error: an exception inside scoring.
        server.Node.Selection.FaultInjectionTitleId = 1002;
        var failed = await client.SelectAsync(Member(1), new TitleCandidate(1002, 0.5f, false));
        server.Node.Selection.FaultInjectionTitleId = 0;
        Assert.Equal(FallbackReason.InternalError, failed.Reason);
        Assert.Equal(100201u, failed.ImageId);
        Assert.Equal(FallbackReason.None, (await client.SelectAsync(Member(1), new TitleCandidate(1002, 0.5f, false))).Reason);

        var metrics = await server.Anonymous.GetStringAsync("/metrics");
        foreach (var reason in new[] { "unknown_title", "no_model", "corrupt_model", "internal_error" })
        {
            Assert.Matches($"edgeselector_fallbacks_total{{reason=\"{reason}\"}} [1-9]", metrics);
        }

        // A decision without a profile is the model's, not a default image: counted as a decision, never a fallback.
        Assert.Matches("edgeselector_model_decisions_total{profile=\"none\"} [1-9]", metrics);
        Assert.DoesNotContain("reason=\"no_profile\"", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deadline_TitlesPastIt_GetTheirDefaults()
    {
        await using var server = await LiveServer.StartAsync(extra: "--EdgeSelector:DeadlineMs=0.000001");
        await using var client = server.Client();
        var titles = new[] { new TitleCandidate(1001, 0.5f, false), new TitleCandidate(1002, 0.5f, false), new TitleCandidate(1003, 0.5f, false) };
        var results = new SelectResult[3];
        await client.SelectPageAsync(Member(1), titles, results);
        Assert.Equal(FallbackReason.None, results[0].Reason); // the first title is always decided
        Assert.Equal(FallbackReason.Deadline, results[1].Reason);
        Assert.Equal(100201u, results[1].ImageId);
        Assert.Equal(FallbackReason.Deadline, results[2].Reason);
        Assert.Matches("edgeselector_fallbacks_total{reason=\"deadline\"} [1-9]", await server.Anonymous.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task Overload_QueuedTooLong_IsShedWithDefaults()
    {
        await using var server = await LiveServer.StartAsync(extra: "--EdgeSelector:MaxQueueDelayMs=0.000001");
        await using var client = server.Client();
        // Requests are aged with the batch's clock (issue 12.2): read when the batch was read, again at the start of
        // each page. A page starts after its bytes were read, so with a 1 ns limit it is always too old.
        var titles = new[] { new TitleCandidate(1004, 0.5f, false), new TitleCandidate(1004, 0.5f, false) };
        var results = new SelectResult[titles.Length];
        await client.SelectPageAsync(Member(1), titles, results);
        var shed = results[1];
        Assert.All(results, r => Assert.Equal(FallbackReason.Overload, r.Reason));
        Assert.Equal(100401u, shed.ImageId);
        Assert.Equal(1f, shed.Propensity);
        Assert.Matches("edgeselector_fallbacks_total{reason=\"overload\"} [1-9]", await server.Anonymous.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task Overload_TheRespPortSheds_ByTheSamePolicy()
    {
        var resp = FreePort();
        await using var server = await LiveServer.StartAsync(extra: ["--EdgeSelector:MaxQueueDelayMs=0.000001", $"--EdgeSelector:RespPort={resp}"]);
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, resp);
        var stream = tcp.GetStream();
        // A page first, in the same write: requests are aged with the batch's clock (issue 12.2), read again at the
        // start of each page, so the ART.SELECT behind it is older than the 1 ns limit when its turn comes.
        await stream.WriteAsync("*4\r\n$8\r\nART.PAGE\r\n$1\r\n1\r\n$4\r\n1004\r\n$4\r\n1005\r\n*4\r\n$10\r\nART.SELECT\r\n$4\r\n1004\r\n$1\r\n1\r\n$8\r\nWITHMETA\r\n"u8.ToArray());
        var buffer = new byte[256];
        var text = new StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        // The page's answer (*2 and two images: three lines), then [image, event id, propensity, reason, event tag]:
        // nine CRLF-terminated lines.
        while (text.ToString().Split("\r\n").Length <= 12)
        {
            var n = await stream.ReadAsync(buffer, timeout.Token);
            Assert.True(n > 0, $"closed after {text}");
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        var select = text.ToString()[text.ToString().IndexOf("*5\r\n", StringComparison.Ordinal)..];
        Assert.StartsWith("*5\r\n:100401\r\n", select, StringComparison.Ordinal); // the default image
        Assert.Equal(":6", select.Split("\r\n")[6]); // reason 6 = overload
    }

    [Fact]
    public async Task Overload_ClientStampedLongAgo_IsShed_OnlyWhenStampsAreTrusted()
    {
        await using var server = await LiveServer.StartAsync(extra: ["--EdgeSelector:MaxQueueDelayMs=50", "--EdgeSelector:ShedByClientTimestamp=true"]);
        await using var client = server.Client();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var old = Member(1);
        old.TimestampUnixMs = now - 5_000; // sent 5 s ago: queued somewhere the server could not see
        Assert.Equal(FallbackReason.Overload, (await client.SelectAsync(old, new TitleCandidate(1005, 0.5f, false))).Reason);
        var fresh = Member(1);
        fresh.TimestampUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.Equal(FallbackReason.None, (await client.SelectAsync(fresh, new TitleCandidate(1005, 0.5f, false))).Reason);
        var replayed = Member(1);
        replayed.TimestampUnixMs = now - 86_400_000; // a day old: a replayed time, not a send time
        Assert.Equal(FallbackReason.None, (await client.SelectAsync(replayed, new TitleCandidate(1005, 0.5f, false))).Reason);
    }
}
