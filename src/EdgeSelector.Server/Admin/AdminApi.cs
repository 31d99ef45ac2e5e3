using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using EdgeSelector.Core.Features;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Health;
using EdgeSelector.Server.Hosting;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Serving;
using EdgeSelector.Storage;

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
        var fleet = app.Services.GetService<Fleet.FleetNode>(); // null unless the node is in a fleet (docs/fleet.md)
        if (fleet is not null)
        {
            node.Health.AddProbe(() => fleet.IsCaughtUp(out var waiting) ? null : new HealthCondition("fleet", true, waiting));
        }

        admin.MapGet("/healthz", () => Health(node.Health.Evaluate()));
        admin.MapGet("/readyz", () => Readiness(node.Health.Evaluate(), node));
        var meters = app.Services.GetRequiredService<MeterExporter>(); // listening from here on: before Kestrel accepts
        admin.MapGet("/metrics", () => Results.Text(NodeExposition.Render(node, fleet, meters), PrometheusWriter.ContentType));

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

            return Bundle(await node.Bundles.ApplyAsync(body, force ?? false));
        });
        Rollout.RolloutApi.Map(v1, node); // rollout (#15): /v1/rollout/*, docs/rollout.md
        v1.MapGet("/models", () => Results.Json(AdminListings.Models(node.Stores.Models, node.Bundles.History), AdminJsonContext.Default.ModelsListing));
        v1.MapPost("/models/rollback", async () => Bundle(await node.Bundles.RollbackAsync()));

        v1.MapPut("/profiles", async (HttpRequest request) =>
        {
            var (batch, problem) = await ReadJson(request, AdminJsonContext.Default.ProfileBatch, 64L << 20);
            if (batch is null)
            {
                return Error(400, problem!);
            }

            if (AdminConversions.MissingField(batch) is { } missing)
            {
                return Error(400, missing);
            }

            if (batch.Profiles.Count > 100_000)
            {
                return Error(413, $"{batch.Profiles.Count} profiles in one batch; send at most 100000 per call");
            }

            var ids = new ulong[batch.Profiles.Count];
            var profiles = new MemberProfile[batch.Profiles.Count];
            for (var i = 0; i < ids.Length; i++)
            {
                if (batch.Profiles[i] is null)
                {
                    return Error(400, $"profile {i} is null");
                }

                if (!AdminConversions.TryProfile(batch.Profiles[i], out ids[i], out profiles[i], out var error))
                {
                    return Error(400, $"profile {i}: {error}");
                }
            }

            // Awaited: the checkpoint's wait holds no pool thread (docs/performance.md, "Thread-pool floor").
            var written = await node.Stores.Profiles.UpsertManyDurableAsync(ids, profiles, node.Stores.WriteTimeout);
            return written.IsDurable
                ? Results.Json(new ProfileBatchResult(ids.Length), AdminJsonContext.Default.ProfileBatchResult)
                : Unavailable(written.Reason ?? "profiles: not durable");
        });

        v1.MapPost("/select", async (HttpRequest request) =>
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            var (body, problem) = await ReadJson(request, AdminJsonContext.Default.SelectRequestDto, 1L << 20);
            if (body is null)
            {
                return Error(400, problem!);
            }

            if (AdminConversions.MissingField(body) is { } missing)
            {
                return Error(400, missing);
            }

            if (body.Titles.Count is 0 || body.Titles.Count > node.Options.MaxTitlesPerPage)
            {
                return Error(400, $"send 1 to {node.Options.MaxTitlesPerPage} titles");
            }

            if (body.Titles.IndexOf(null!) is var nullTitle and >= 0)
            {
                return Error(400, $"title {nullTitle} is null");
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
            using (var serving = new ServingSession(node.Selection, node.Rewards, titles.Length, TimeSpan.FromSeconds(1), static () => { }))
            {
                // A batch of one request on a session of its own (store sessions from the stores' pools).
                serving.BeginBatch(new Batch(arrival, arrival));
                try
                {
                    serving.Select(context, titles, results);
                }
                finally
                {
                    serving.EndBatch();
                }
            }

            node.Metrics.Request(RequestKind.AdminSelect, start);
            return Results.Json(
                new SelectResponseDto([.. results.Select(r => new SelectResultDto
                {
                    TitleId = r.TitleId,
                    ImageId = r.ImageId,
                    EventId = r.EventId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    EventTag = r.EventTag.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Propensity = r.Propensity,
                    ModelVersion = r.ModelVersion,
                    Reason = ServerMetrics.ReasonName(r.Reason),
                })]),
                AdminJsonContext.Default.SelectResponseDto);
        });

        v1.MapPost("/rewards", async Task<IResult> (HttpRequest request) =>
        {
            var (batch, problem) = await ReadJson(request, AdminJsonContext.Default.RewardBatch, 16L << 20);

            // The whole batch is checked before any reward is recorded: a 400 records nothing.
            if (batch is null)
            {
                return Error(400, problem!);
            }

            if (AdminConversions.MissingField(batch) is { } missing)
            {
                return Error(400, missing);
            }

            // Every event id is checked before any reward is recorded: a 400 records nothing.
            var eventIds = new ulong[batch.Rewards.Count];
            var eventTags = new ulong[batch.Rewards.Count];
            for (var i = 0; i < eventIds.Length; i++)
            {
                if (batch.Rewards[i] is not { } reward)
                {
                    return Error(400, $"reward {i} is null");
                }

                if (!RewardRequest.ValuesInRange(reward.MinutesWatched, reward.FractionCompleted))
                {
                    var (minutes, fraction) = (reward.MinutesWatched.ToString(System.Globalization.CultureInfo.InvariantCulture), reward.FractionCompleted.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    return Error(400, $"reward {i}: minutesWatched must be a finite number >= 0 and fractionCompleted in [0, 1] (got {minutes} and {fraction})");
                }

                var text = reward.EventId;
                if (!ulong.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out eventIds[i]))
                {
                    return Error(400, $"event id '{text}' is not a decimal unsigned 64-bit number");
                }

                // An absent tag is "no tag" (answered "unverified"); a present one must be a decimal u64 like the id.
                if (reward.EventTag is { } tagText
                    && !ulong.TryParse(tagText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out eventTags[i]))
                {
                    return Error(400, $"event tag '{tagText}' is not a decimal unsigned 64-bit number");
                }
            }

            return await RecordRewards(node, batch, eventIds, eventTags);
        });
    }

    // 200 only once every accepted reward is durable (the reward log's commit covers it); 503 (retry) when the log
    // cannot take one or make them durable in time, with the batch's accepted ids forgotten so the retry records them.
    private static async Task<IResult> RecordRewards(EdgeSelectorNode node, RewardBatch batch, ulong[] eventIds, ulong[] eventTags)
    {
        var rewards = node.Rewards;
        var statuses = new List<string>(eventIds.Length);
        var accepted = new List<ulong>();
        var durableAt = RewardService.NothingToWaitFor;
        for (var i = 0; i < eventIds.Length; i++)
        {
            var reward = batch.Rewards[i];
            if (!rewards.TryRecord(new RewardRequest(eventIds[i], reward.PlayStarted, reward.MinutesWatched, reward.FractionCompleted, reward.TimestampMs, eventTags[i]), out var status, out var at))
            {
                accepted.ForEach(rewards.Forget);
                return Unavailable("rewards: the reward log is not accepting records (disk full or failing?); retry");
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
            return Unavailable("rewards: the reward log could not make the rewards durable in time; retry");
        }

        return Results.Json(new RewardBatchResult(statuses), AdminJsonContext.Default.RewardBatchResult);
    }

    private static IResult Error(int status, string message) =>
        Results.Json(new ErrorBody(message), AdminJsonContext.Default.ErrorBody, statusCode: status);

    /// <summary>503 with a JSON reason and <c>"retry": true</c>: the write could not be made durable now; send it again later.</summary>
    private static IResult Unavailable(string reason) => new RetryLater(reason);

    /// <summary>A push's or rollback's outcome as HTTP (docs/admin-api.md).</summary>
    private static IResult Bundle(BundleResult result) => result.Kind switch
    {
        BundleResultKind.Applied => Results.Json(new VersionBody(result.Version, result.Titles, "applied"), AdminJsonContext.Default.VersionBody),
        BundleResultKind.AlreadyApplied => Results.Json(new VersionBody(result.Version, result.Titles, "already applied"), AdminJsonContext.Default.VersionBody),
        BundleResultKind.RolledBack => Results.Json(new VersionBody(result.Version, result.Titles, "rolled back"), AdminJsonContext.Default.VersionBody),
        BundleResultKind.Unauthenticated => Error(403, result.Message),
        BundleResultKind.Invalid => Error(422, result.Message),
        BundleResultKind.NotNewer or BundleResultKind.NoPrevious => Error(409, result.Message),
        _ => Unavailable(result.Message),
    };

    private static IResult Health(HealthSnapshot health) =>
        Results.Json(new HealthBody(health.Status, Conditions(health)), AdminJsonContext.Default.HealthBody);

    private static IResult Readiness(HealthSnapshot health, EdgeSelectorNode node) => Results.Json(
        new ReadinessBody(
            health.Ready,
            health.Status,
            health.Conditions.FirstOrDefault(c => c.BlocksReadiness) is { } blocking ? $"{blocking.Component}: {blocking.Reason}" : null,
            node.Stores.Models.Version,
            node.Stores.Models.TitleCount,
            Conditions(health)),
        AdminJsonContext.Default.ReadinessBody,
        statusCode: health.Ready ? 200 : 503);

    private static List<ConditionBody> Conditions(HealthSnapshot health) =>
        [.. health.Conditions.Select(c => new ConditionBody(c.Component, c.Reason, c.BlocksReadiness))];

    /// <summary>503 + <c>Retry-After</c> + <see cref="ErrorBody"/> with <c>retry: true</c>.</summary>
    /// <remarks>Status and body are exposed as the framework's result interfaces, so the admin event log names them.</remarks>
    private sealed class RetryLater(string reason) : IResult, IStatusCodeHttpResult, IValueHttpResult
    {
        private readonly ErrorBody _body = new(reason, Retry: true);

        public int? StatusCode => StatusCodes.Status503ServiceUnavailable;

        public object? Value => _body;

        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = "5";
            return Results.Json(_body, AdminJsonContext.Default.ErrorBody, statusCode: StatusCodes.Status503ServiceUnavailable).ExecuteAsync(httpContext);
        }
    }

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

    internal static async Task<byte[]?> ReadBody(HttpRequest request, long limit)
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
