using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using EdgeSelector.Core.Features;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Hosting;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Admin;

/// <summary>
/// The admin HTTP API on its own port (docs/admin-api.md): health, readiness and metrics are open; everything else
/// needs <c>Authorization: Bearer &lt;EdgeSelector:AdminToken&gt;</c>.
/// </summary>
internal static class AdminApi
{
    public static void Map(WebApplication app, EdgeSelectorNode node)
    {
        var adminToken = Encoding.UTF8.GetBytes(node.Options.AdminToken);
        var admin = app.MapGroup(string.Empty);
        admin.MapGet("/healthz", () => Results.Text("ok\n"));
        var fleet = app.Services.GetService<Fleet.FleetNode>(); // null unless the node is in a fleet (docs/fleet.md)
        admin.MapGet("/readyz", () => !node.IsReady
            ? Results.Text("not ready: no model bundle loaded\n", statusCode: 503)
            : fleet is not null && !fleet.IsCaughtUp(out var waiting)
                ? Results.Text($"not ready: {waiting}\n", statusCode: 503)
                : Results.Text($"ready: {node.Stores.Models.TitleCount} titles, bundle {node.Stores.Models.Version}\n"));
        admin.MapGet("/metrics", () =>
        {
            var text = node.Metrics.Render(node.Stores, node.Listeners);
            return Results.Text(fleet is null ? text : Fleet.FleetMetrics.Append(text, fleet), "text/plain; version=0.0.4");
        });

        RouteGroupBuilder v1 = admin.MapGroup("/v1");
        app.Services.GetRequiredService<AdminEventLog>().AddTo(v1); // the audit log (outermost: sees 401s too)
        v1.AddEndpointFilter(async (context, next) =>
            Authorized(context.HttpContext.Request, adminToken)
                ? await next(context)
                : Results.Json(new ErrorBody("missing or wrong bearer token"), AdminJsonContext.Default.ErrorBody, statusCode: 401));

        v1.MapPut("/models", async (HttpRequest request, bool? force) =>
        {
            var body = await ReadBody(request, (long)node.Options.MaxAdminBodyMB << 20);
            if (body is null)
            {
                return Error(413, $"bundle larger than EdgeSelector:MaxAdminBodyMB ({node.Options.MaxAdminBodyMB} MB)");
            }

            var outcome = node.Bundles.Apply(body, force ?? false);
            return outcome.Ok
                ? Results.Json(new VersionBody(outcome.Info!.Version, outcome.Info.Titles, "applied"), AdminJsonContext.Default.VersionBody)
                : Error(outcome.Status, outcome.Message);
        });
        v1.MapGet("/models", () => Results.Json(node.Bundles.List(), AdminJsonContext.Default.ModelsListing));
        v1.MapPost("/models/rollback", () => node.Bundles.Rollback(out var version)
            ? Results.Json(new VersionBody(version, node.Stores.Models.TitleCount, "rolled back"), AdminJsonContext.Default.VersionBody)
            : Error(409, "no previous bundle to roll back to"));

        v1.MapPut("/profiles", async (HttpRequest request) =>
        {
            var (batch, problem) = await ReadJson(request, AdminJsonContext.Default.ProfileBatch, 64L << 20);
            if (batch is null)
            {
                return Error(400, problem!);
            }

            if (batch.Profiles.Count > 100_000)
            {
                return Error(413, $"{batch.Profiles.Count} profiles in one batch; send at most 100000 per call");
            }

            var ids = new ulong[batch.Profiles.Count];
            var profiles = new MemberProfile[batch.Profiles.Count];
            for (var i = 0; i < ids.Length; i++)
            {
                if (!AdminConversions.TryProfile(batch.Profiles[i], out ids[i], out profiles[i], out var error))
                {
                    return Error(400, $"profile {i}: {error}");
                }
            }

            node.Stores.Profiles.UpsertMany(ids, profiles);
            return Results.Json(new ProfileBatchResult(ids.Length), AdminJsonContext.Default.ProfileBatchResult);
        });

        v1.MapPost("/select", async (HttpRequest request) =>
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            var (body, problem) = await ReadJson(request, AdminJsonContext.Default.SelectRequestDto, 1L << 20);
            if (body is null)
            {
                return Error(400, problem!);
            }

            if (body.Titles.Count is 0 || body.Titles.Count > node.Options.MaxTitlesPerPage)
            {
                return Error(400, $"send 1 to {node.Options.MaxTitlesPerPage} titles");
            }

            if (!AdminConversions.TryContext(body, out var context, out var error))
            {
                return Error(400, error);
            }

            var titles = body.Titles.Select(t => new TitleCandidate(t.TitleId, t.Score, t.Interacted)).ToArray();
            var results = new SelectResult[titles.Length];

            // The request's age counts from when the node has read it (as on the TCP front doors: the read's clock
            // reading), not from before its body arrived and was parsed: on a node that has just started, the first
            // JSON read alone took more than MaxQueueDelayMs (JIT), and the README's first query came back `overload`.
            var arrival = System.Diagnostics.Stopwatch.GetTimestamp();
            node.Selection.Select(context, titles, results, arrivalTicks: arrival);
            node.Metrics.Request(RequestKind.AdminSelect, start);
            return Results.Json(
                new SelectResponseDto([.. results.Select(r => new SelectResultDto
                {
                    TitleId = r.TitleId,
                    ImageId = r.ImageId,
                    EventId = r.EventId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Propensity = r.Propensity,
                    ModelVersion = r.ModelVersion,
                    Reason = ServerMetrics.ReasonName(r.Reason),
                })]),
                AdminJsonContext.Default.SelectResponseDto);
        });

        v1.MapPost("/rewards", async Task<IResult> (HttpRequest request) =>
        {
            var (batch, problem) = await ReadJson(request, AdminJsonContext.Default.RewardBatch, 16L << 20);
            if (batch is null)
            {
                return Error(400, problem!);
            }

            // Every event id is checked before any reward is recorded: a 400 records nothing.
            var eventIds = new ulong[batch.Rewards.Count];
            for (var i = 0; i < eventIds.Length; i++)
            {
                var text = batch.Rewards[i].EventId;
                if (!ulong.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out eventIds[i]))
                {
                    return Error(400, $"event id '{text}' is not a decimal unsigned 64-bit number");
                }
            }

            return await RecordRewards(node, batch, eventIds);
        });
    }

    // 200 only once every accepted reward is durable (the reward log's commit covers it); 503 (retry) when the log
    // cannot take one or make them durable in time, with the batch's accepted ids forgotten so the retry records them.
    private static async Task<IResult> RecordRewards(EdgeSelectorNode node, RewardBatch batch, ulong[] eventIds)
    {
        var rewards = node.Rewards;
        var statuses = new List<string>(eventIds.Length);
        var accepted = new List<ulong>();
        var durableAt = RewardService.NothingToWaitFor;
        for (var i = 0; i < eventIds.Length; i++)
        {
            var reward = batch.Rewards[i];
            if (!rewards.TryRecord(new RewardRequest(eventIds[i], reward.PlayStarted, reward.MinutesWatched, reward.FractionCompleted, reward.TimestampMs), out var status, out var at))
            {
                accepted.ForEach(rewards.Forget);
                return Error(503, "the reward log is not accepting records; retry");
            }

            if (status == RewardStatus.Accepted)
            {
                accepted.Add(eventIds[i]);
            }

            durableAt = Math.Max(durableAt, at);
            statuses.Add(ServerMetrics.StatusName(status));
        }

        if (!await rewards.WaitDurableAsync(durableAt, TimeSpan.FromSeconds(node.Options.RewardCommitTimeoutSeconds)))
        {
            accepted.ForEach(rewards.Forget);
            node.Metrics.RewardRefused();
            return Error(503, "the reward log could not make the rewards durable in time; retry");
        }

        return Results.Json(new RewardBatchResult(statuses), AdminJsonContext.Default.RewardBatchResult);
    }

    private static IResult Error(int status, string message) =>
        Results.Json(new ErrorBody(message), AdminJsonContext.Default.ErrorBody, statusCode: status);

    /// <summary>True when the request carries the admin token (constant-time compare); never with no token configured.</summary>
    internal static bool Authorized(HttpRequest request, byte[] token)
    {
        if (token.Length == 0)
        {
            return false; // no token configured: the admin API is closed, not open
        }

        var header = request.Headers.Authorization.ToString();
        const string Prefix = "Bearer ";
        if (!header.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[Prefix.Length..].Trim()), token);
    }

    private static async Task<byte[]?> ReadBody(HttpRequest request, long limit)
    {
        if (request.ContentLength > limit)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static async Task<(T? Value, string? Problem)> ReadJson<T>(HttpRequest request, JsonTypeInfo<T> type, long limit)
        where T : class
    {
        var body = await ReadBody(request, limit);
        if (body is null)
        {
            return (null, $"body larger than {limit >> 20} MB");
        }

        try
        {
            var value = JsonSerializer.Deserialize(body, type);
            return value is null ? (null, "empty body") : (value, null);
        }
        catch (JsonException e)
        {
            return (null, $"invalid JSON: {e.Message}");
        }
    }
}
