using EdgeSelector.Client;
using EdgeSelector.Protocol;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace EdgeSelector.Dashboard.Tests;

/// <summary>
/// The page itself, in headless Chromium against a real node (docs/dashboard.md, "Tests"). Fails, saying how to install
/// it, when no Chromium is found: a browser test that passes without a browser would prove nothing.
/// </summary>
[Trait("Category", "Browser")]
public sealed class DashboardPageTests(ITestOutputHelper output)
{
    // A refresh is 500 ms; on a loaded 2-core machine a page may take far longer to get going.
    private static readonly PageWaitForFunctionOptions Patient = new() { Timeout = 120_000, PollingInterval = 100 };

    [Fact]
    public async Task Page_UnderLoad_ShowsTheNumbersOfMetrics_DrawsItsCharts_AndSavesAScreenshot()
    {
        await using var node = await DashboardNode.StartAsync();
        await node.PushAsync(2, 100302);
        await node.PushAsync(3, 100303);
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.Context.NewPageAsync();
        var errors = CollectErrors(page);
        await page.GotoAsync(node.BaseAddress.ToString());

        // The page sees the node idle first (its second and third refreshes rate it), so its requests/s line starts at
        // zero and climbs when the load comes. A load already running at the page's first refreshes draws a flat line
        // near the top of the chart (CI once read 8 rows), which says nothing about whether the line follows the rate.
        await page.WaitForFunctionAsync("() => Number(document.body.dataset.refreshes) >= 3", null, Patient);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var load = LoadAsync(node, stop.Token);
        try
        {
            await page.WaitForFunctionAsync(
                "() => Number(document.body.dataset.refreshes) >= 8 && Number(document.querySelector('#card-selections .detail').textContent.replace(/[^0-9]/g, '')) > 2000",
                null,
                Patient);
            await AssertPageShowsMetrics(page, node, "under load");

            // The throughput chart drew its requests/s line (the first colour) at many heights, not just a flat zero.
            var rows = await page.EvaluateAsync<int>(CountRowsOfColour, new[] { "#chart-throughput canvas", "47", "111", "214" });
            Assert.True(rows >= 10, $"the requests/s line covers {rows} pixel rows of the chart");
            var latencyRows = await page.EvaluateAsync<int>(CountRowsOfColour, new[] { "#chart-latency canvas", "47", "111", "214" });
            Assert.True(latencyRows >= 1, "the p50 latency line is drawn");

            // The per-title view: title 1003's three candidates with their share of the choices.
            await page.WaitForSelectorAsync("[data-title-id='1003'] tr[data-image-id='100303']", new() { Timeout = 60_000 });
            var shares = await page.Locator("[data-title-id='1003'] tr[data-image-id]").EvaluateAllAsync<double[]>("rows => rows.map(r => Number(r.dataset.share))");
            Assert.Equal(3, shares.Length);
            Assert.Equal(1.0, shares.Sum(), 3);

            var screenshot = Path.Combine(ScreenshotDirectory(), "dashboard.png");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
            Assert.True(new FileInfo(screenshot).Length > 20_000, "the screenshot holds a rendered page");
            output.WriteLine($"screenshot: {screenshot}");
        }
        finally
        {
            await stop.CancelAsync();
            await load;
        }

        // Idle: the same numbers as /metrics, digit for digit, one refresh later.
        await AssertPageShowsMetrics(page, node, "idle");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Rollback_ThroughThePage_ChangesTheServedVersion_AfterAWrongTokenWasRefused()
    {
        await using var node = await DashboardNode.StartAsync();
        await node.PushAsync(2, 100302);
        await node.PushAsync(3, 100303);
        await using var client = node.Client();
        Assert.Equal(3ul, (await client.SelectAsync(DashboardNode.Member(1), new TitleCandidate(1003, 0.5f, false))).ModelVersion);

        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.Context.NewPageAsync();
        var errors = CollectErrors(page);
        await page.GotoAsync(node.BaseAddress.ToString());
        await page.WaitForFunctionAsync("() => document.querySelector('#active-version')?.dataset.version === '3'", null, Patient);
        Assert.Equal("Roll back to v2", await page.TextContentAsync("#rollback"));

        // Without a token an action is not even sent.
        await page.ClickAsync("#rollback");
        await page.ClickAsync("#rollback");
        await WaitForStatus(page, "error", "Enter the admin token first");

        // A wrong token: the node refuses it (401) and nothing changes.
        await page.FillAsync("#token", "not-the-admin-token");
        await page.ClickAsync("#token-use");
        await WaitForStatus(page, "error", "wrong admin token");
        Assert.Equal("refused", await page.GetAttributeAsync("#token-state", "data-state"));
        Assert.Equal(3ul, await node.ServedVersionAsync());
        Assert.All(errors, e => Assert.Contains("401", e)); // the browser reports the refused request, and only that

        // The right token, then rollback (two clicks: arm, confirm).
        await page.FillAsync("#token", DashboardNode.Token);
        await page.ClickAsync("#token-use");
        await WaitForStatus(page, "ok", "Token accepted");
        Assert.Equal(string.Empty, await page.InputValueAsync("#token")); // not left in the DOM
        await page.ClickAsync("#rollback");
        Assert.Equal("Confirm: roll back to v2", await page.TextContentAsync("#rollback"));
        Assert.Equal(3ul, await node.ServedVersionAsync());
        await page.ClickAsync("#rollback");
        await WaitForStatus(page, "ok", "now serving version 2");
        Assert.Equal(2ul, await node.ServedVersionAsync());
        Assert.Equal(2ul, (await client.SelectAsync(DashboardNode.Member(1), new TitleCandidate(1003, 0.5f, false))).ModelVersion);
        await page.WaitForFunctionAsync("() => document.querySelector('#active-version')?.dataset.version === '2'", null, Patient);

        await page.ClickAsync("#checkpoint");
        await WaitForStatus(page, "ok", "Checkpoint done");

        // The token lives in the page's memory only.
        var stored = await page.EvaluateAsync<string>("() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie + location.href");
        Assert.DoesNotContain(DashboardNode.Token, stored, StringComparison.Ordinal);
        Assert.DoesNotContain(DashboardNode.Token, await page.ContentAsync(), StringComparison.Ordinal);
        Assert.All(errors, e => Assert.Contains("401", e));
    }

    [Fact]
    public async Task Fleet_WhenTheNodeIsPartOfOne_ShowsEveryNodesVersionLagAndHeartbeat()
    {
        await using var node = await DashboardNode.StartAsync();
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.Context.NewPageAsync();
        var errors = CollectErrors(page);
        await page.GotoAsync(node.BaseAddress.ToString());
        await page.WaitForFunctionAsync("() => Number(document.body.dataset.refreshes) >= 3", null, Patient);
        Assert.False(await page.IsVisibleAsync("#fleet"));

        node.Feed.Fleet = new FakeFleet(FakeFleet.ThreeNodes(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#fleet-nodes tbody tr').length === 3", null, Patient);
        Assert.True(await page.IsVisibleAsync("#fleet"));
        var rows = await page.Locator("#fleet-nodes tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.innerText)");
        Assert.Contains("this node", rows[0]);
        Assert.Contains("v6", rows[1]);
        Assert.Contains("BadSignature", rows[1]);
        Assert.Contains("not ready", rows[2]);
        Assert.Contains("5.0 MiB", rows[2]);
        Assert.Contains("nats: connection refused", rows[2]);
        // Node 2's heartbeat is two minutes old: three 5 s intervals have passed, so it is marked.
        Assert.Equal("bad", await page.Locator("#fleet-nodes tbody tr:nth-child(3) td:nth-child(6)").GetAttributeAsync("class"));
        Assert.Contains("version 7", await page.TextContentAsync("#fleet-summary"));
        Assert.Empty(errors);
    }

    // Counts the pixel rows of a canvas that hold the given colour (args: selector, r, g, b).
    private const string CountRowsOfColour = """
        ([selector, r, g, b]) => {
          const canvas = document.querySelector(selector);
          const { data, width, height } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
          let rows = 0;
          for (let y = 0; y < height; y++) {
            for (let x = 0; x < width; x++) {
              const i = (y * width + x) * 4;
              if (Math.abs(data[i] - r) < 12 && Math.abs(data[i + 1] - g) < 12 && Math.abs(data[i + 2] - b) < 12 && data[i + 3] > 200) { rows++; break; }
            }
          }
          return rows;
        }
        """;

    private static readonly HashSet<string> PerRequestGauges = ["edgeselector_in_flight_requests", "edgeselector_impression_log_lag_bytes"];

    /// <summary>
    /// Every number the page shows under a /metrics series name lies between two readings of /metrics taken around one
    /// refresh of the page (counters only grow); a level gauge that did not move between the readings is shown exactly.
    /// </summary>
    private async Task AssertPageShowsMetrics(IPage page, DashboardNode node, string phase)
    {
        var before = PrometheusText.Parse(await node.Anonymous.GetStringAsync("/metrics"));
        var refreshes = await page.EvaluateAsync<int>("() => Number(document.body.dataset.refreshes)");
        // The refresh after the one that may have been in flight started after `before` was read.
        await page.WaitForFunctionAsync($"() => Number(document.body.dataset.refreshes) >= {refreshes + 2}", null, Patient);
        var shown = await page.Locator("[data-metric]").EvaluateAllAsync<string[][]>("els => els.map(e => [e.dataset.metric, e.dataset.kind, e.textContent])");
        var after = PrometheusText.Parse(await node.Anonymous.GetStringAsync("/metrics"));
        Assert.True(shown.Length >= 30, $"{phase}: the page shows {shown.Length} metrics");
        var checkedGauges = 0;
        foreach (var (metric, kind, text) in shown.Select(s => (s[0], s[1], s[2])))
        {
            var value = long.Parse(text.Replace(",", string.Empty, StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(before.ContainsKey(metric), $"{phase}: /metrics has no series {metric}");
            if (kind == "counter")
            {
                Assert.True(before[metric] <= value && value <= after[metric], $"{phase}: {metric} shows {value}, /metrics read {before[metric]} then {after[metric]}");
            }
            else if (PerRequestGauges.Contains(metric))
            {
                // In-flight requests and the log's commit lag move with every request: two equal readings of /metrics
                // do not mean the gauge held still in between (0, 1, 0 under load), so only its sign is checked.
                Assert.True(value >= 0, $"{phase}: gauge {metric} shows {value}");
            }
            else if (before[metric] == after[metric])
            {
                Assert.True(value == before[metric], $"{phase}: gauge {metric} shows {value}, /metrics {before[metric]}");
                checkedGauges++;
            }
        }

        Assert.True(checkedGauges >= 3, $"{phase}: only {checkedGauges} gauges held still long enough to compare");
        output.WriteLine($"{phase}: {shown.Length} numbers match /metrics, {checkedGauges} of them gauges");
    }

    private static List<string> CollectErrors(IPage page)
    {
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors)
                {
                    errors.Add(message.Text);
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (errors)
            {
                errors.Add("page error: " + error);
            }
        };
        return errors;
    }

    private static Task WaitForStatus(IPage page, string state, string text) =>
        page.WaitForFunctionAsync(
            "([state, text]) => { const s = document.querySelector('#action-status'); return s.dataset.state === state && s.textContent.includes(text); }",
            new[] { state, text },
            Patient);

    private static string ScreenshotDirectory()
    {
        var directory = Environment.GetEnvironmentVariable("EDGESELECTOR_SCREENSHOT_DIR") is { Length: > 0 } configured
            ? configured
            : Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(directory);
        return directory;
    }

    /// <summary>
    /// Selections, pages with an unknown title (fallbacks) and rewards from two connections until cancelled: bounded by
    /// the caller's deadline and by a request count.
    /// </summary>
    private static async Task LoadAsync(DashboardNode node, CancellationToken stop)
    {
        await using var client = node.Client(connections: 2);
        var workers = Enumerable.Range(0, 4).Select(async worker =>
        {
            var titles = new[] { 1001u, 1002u, 1003u, 1004u, 1005u, 9999u }.Select(t => new TitleCandidate(t, 0.5f, false)).ToArray();
            var results = new SelectResult[titles.Length];
            for (var i = 0; i < 200_000 && !stop.IsCancellationRequested; i++)
            {
                try
                {
                    var member = DashboardNode.Member((ulong)(1 + ((i * 4) + worker) % 10_000));
                    await client.SelectPageAsync(member, titles, results, stop);
                    if (i % 4 == 0)
                    {
                        await client.RewardAsync(RewardRequest.For(results[2], true, 10f, 0.3f), stop);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    break;
                }
            }
        });
        await Task.WhenAll(workers);
    }
}
