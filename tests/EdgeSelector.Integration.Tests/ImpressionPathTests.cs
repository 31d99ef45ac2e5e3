using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using EdgeSelector.Client;
using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;
using EdgeSelector.Storage.Impressions;
using Xunit.Abstractions;

namespace EdgeSelector.Integration.Tests;

/// <summary>The server's logs under SIGKILL: every impression whose commit was reported, every reward answered "accepted", is on disk.</summary>
public sealed class ImpressionPathTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Kill9_OfTheServerProcess_EveryImpressionWhoseCommitWasReportedIsInTheLog()
    {
        const int titlesPerPage = 12;
        var dataDir = Path.Combine(Path.GetTempPath(), "es-kill9-" + Guid.NewGuid().ToString("N"));
        var binary = FreePort();
        var admin = FreePort();
        var args = ServerArgs(dataDir, binary, admin);
        var acknowledged = new Dictionary<ulong, uint>();
        try
        {
            using (var child = ServerLauncher.Start(args, _ => { }))
            {
                using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{admin}"), Timeout = TimeSpan.FromSeconds(5) };
                // Generous: on a loaded 2-core CI machine a JIT start plus demo seeding has taken over a minute.
                await WaitUntil(async () => (await TryGet(http, "/readyz")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(180));

                await using (var client = new EdgeSelectorClient(new EdgeSelectorClientOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, binary), RequestTimeout = TimeSpan.FromSeconds(30) }))
                {
                    var titles = Enumerable.Range(1001, titlesPerPage).Select(t => new TitleCandidate((uint)t, 0.5f, false)).ToArray();
                    var results = new SelectResult[titles.Length];
                    for (ulong m = 1; m <= 500; m++)
                    {
                        await client.SelectPageAsync(Member(m), titles, results);
                        foreach (var r in results)
                        {
                            acknowledged.Add(r.EventId, r.TitleId);
                        }
                    }

                    // The node reports the log as fully committed (lag 0): everything answered so far is durable.
                    await WaitUntil(async () => (await TryGet(http, "/metrics")).Body.Contains("edgeselector_impression_log_lag_bytes 0\n", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

                    // More traffic that is not waited for: may or may not survive, must not corrupt what did.
                    var tail = Enumerable.Range(0, 200).Select(i => client.SelectPageAsync(Member(10_000 + (ulong)i), titles, new SelectResult[titles.Length])).ToArray();
                    await Task.WhenAll(tail);
                }

                child.Kill(entireProcessTree: true); // SIGKILL: no shutdown, no final commit
                child.WaitForExit();
            }

            var logged = new Dictionary<ulong, uint>();
            var entries = new List<int>();
            using (var log = ImpressionLogSnapshotReader.Open(Path.Combine(dataDir, "impressions")))
            {
                log.ReadFrom(0, new Collect(logged, entries));
            }

            output.WriteLine($"acknowledged {acknowledged.Count}, readable after SIGKILL {logged.Count} in {entries.Count} entries");
            Assert.Equal(6_000, acknowledged.Count);
            var missing = acknowledged.Count(a => !logged.TryGetValue(a.Key, out var title) || title != a.Value);
            Assert.True(missing == 0, $"{missing} acknowledged impressions are missing (or wrong) after SIGKILL");

            // One entry per page (docs/impression-log.md): every entry the pages wrote holds their 12 titles.
            Assert.True(entries.Count >= 500, $"{entries.Count} entries");
            Assert.All(entries, count => Assert.Equal(titlesPerPage, count));
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Kill9_UnderRewardLoad_EveryRewardAnsweredAcceptedIsInTheRewardLog()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "es-kill9-rewards-" + Guid.NewGuid().ToString("N"));
        var binary = FreePort();
        var admin = FreePort();
        // A slow group commit (100 ms) leaves many rewards appended but not yet durable at the kill: exactly the
        // ones that must not have been answered "accepted".
        var args = ServerArgs(dataDir, binary, admin, "--EdgeSelector:LogCommitIntervalMs=100");
        var acknowledged = new ConcurrentBag<ulong>();
        var answered = 0;
        var sent = 0;
        try
        {
            using (var child = ServerLauncher.Start(args, _ => { }))
            {
                using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{admin}"), Timeout = TimeSpan.FromSeconds(5) };
                await WaitUntil(async () => (await TryGet(http, "/readyz")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(180));

                var events = new List<SelectResult>();
                await using (var client = new EdgeSelectorClient(new EdgeSelectorClientOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, binary), ConnectionCount = 4, RequestTimeout = TimeSpan.FromSeconds(30) }))
                {
                    var titles = Enumerable.Range(1001, 12).Select(t => new TitleCandidate((uint)t, 0.5f, false)).ToArray();
                    var results = new SelectResult[titles.Length];
                    for (ulong m = 1; m <= 400; m++)
                    {
                        await client.SelectPageAsync(Member(m), titles, results);
                        events.AddRange(results); // id and tag: a REWARD without its tag is never recorded
                    }

                    // The witness: rewards in waves of 200 in flight; each one answered "accepted" is remembered. The
                    // kill lands while a wave is in flight, once enough were acknowledged (bounded: at most all 4,800).
                    var clock = Stopwatch.StartNew();
                    for (var i = 0; i < events.Count && clock.Elapsed < TimeSpan.FromSeconds(60); i += 200)
                    {
                        sent += Math.Min(200, events.Count - i);
                        var wave = events.Skip(i).Take(200).Select(async shown =>
                        {
                            try
                            {
                                if (await client.RewardAsync(RewardRequest.For(shown, true, 12f, 0.4f)) == RewardStatus.Accepted)
                                {
                                    acknowledged.Add(shown.EventId);
                                }

                                Interlocked.Increment(ref answered);
                            }
                            catch (Exception e) when (e is EdgeSelectorProtocolException or IOException or TimeoutException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
                            {
                                // Cut off by the kill: never acknowledged, so not promised.
                            }
                        }).ToArray();
                        if (acknowledged.Count >= 1_500)
                        {
                            // SIGKILL mid-wave (well inside one 100 ms commit interval): no shutdown, no final commit.
                            await Task.Delay(20);
                            child.Kill();
                            await Task.WhenAll(wave);
                            break;
                        }

                        await Task.WhenAll(wave);
                    }

                    if (!child.HasExited)
                    {
                        child.Kill(entireProcessTree: true);
                    }
                }

                child.WaitForExit();
            }

            var logged = new HashSet<ulong>();
            using (var log = ImpressionLogSnapshotReader.Open(Path.Combine(dataDir, "rewards")))
            {
                log.ReadFrom(0, new CollectRewards(logged));
            }

            output.WriteLine($"rewards sent {sent}, answered {answered}, acknowledged accepted {acknowledged.Count}, readable after SIGKILL {logged.Count}");
            Assert.True(acknowledged.Count >= 1_500, $"only {acknowledged.Count} rewards were acknowledged before the kill");
            var missing = acknowledged.Count(id => !logged.Contains(id));
            Assert.True(missing == 0, $"{missing} rewards answered \"accepted\" are missing after SIGKILL");
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    // The test defaults with the demo catalog; the admin token on the command line, the bundle key unset.
    private static string[] ServerArgs(string dataDir, int binary, int admin, params string[] extra) =>
        [.. Testing.ServerArgs.Defaults(binary, admin, dataDir), "--EdgeSelector:Demo=true", $"--EdgeSelector:AdminToken={LiveServer.Token}", .. extra];

    private static async Task WaitUntil(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(50);
        }
    }

    private static async Task<(HttpStatusCode Status, string Body)> TryGet(HttpClient http, string path)
    {
        try
        {
            using var response = await http.GetAsync(path);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (0, string.Empty);
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

    private readonly struct Collect(Dictionary<ulong, uint> titles, List<int> entries) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            if (!ImpressionEntry.TryRead(record, out var entry))
            {
                return;
            }

            entries.Add(entry.Count);
            foreach (var impression in entry)
            {
                titles[impression.EventId] = impression.TitleId;
            }
        }
    }
}
