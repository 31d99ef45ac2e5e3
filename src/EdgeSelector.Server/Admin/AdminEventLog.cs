using EdgeSelector.Server.Dashboard;
using EdgeSelector.Server.Diagnostics;
using EdgeSelector.Server.Hosting;

namespace EdgeSelector.Server.Admin;

/// <summary>
/// The audit trail of the authenticated admin API (docs/operations.md, "Logging"): an endpoint filter, outermost on
/// each <c>/v1</c> group, that logs what every call did from the result the handler returned (pushes, refusals,
/// rollbacks, profile imports, checkpoints, reward batches, refused credentials), so the handlers themselves carry no
/// logging. Admin calls are operator actions, not the serving path: one event per call is the point. Never logs a body
/// or a credential; refused credentials are rate-limited (one event per 10 s, with the count of those not logged).
/// </summary>
internal sealed class AdminEventLog(EdgeSelectorNode node, ILogger logger)
{
    private readonly RateLimit _authFailures = new(TimeSpan.FromSeconds(10));

    /// <summary>Adds the filter to <paramref name="group"/>; call before the group's authentication filter so it sees 401s.</summary>
    public void AddTo(RouteGroupBuilder group) => group.AddEndpointFilter(async (context, next) =>
    {
        var servedBefore = node.Stores.Models.Version;
        var result = await next(context);
        Log(context.HttpContext, servedBefore, result);
        return result;
    });

    private void Log(HttpContext http, ulong servedBefore, object? result)
    {
        var status = (result as IStatusCodeHttpResult)?.StatusCode ?? http.Response.StatusCode;
        var value = (result as IValueHttpResult)?.Value;
        var reason = (value as ErrorBody)?.Error ?? string.Empty;
        var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? http.Request.Path.Value ?? string.Empty;
        var request = http.Request;
        if (status == StatusCodes.Status401Unauthorized)
        {
            if (_authFailures.TryEnter(out var suppressed))
            {
                NodeLog.AuthenticationFailed(logger, AuthFailureReason(request), request.Method, route, http.Connection.RemoteIpAddress?.ToString() ?? "?", suppressed);
            }

            return;
        }

        var ok = status is >= 200 and < 300;
        switch ((request.Method, route))
        {
            case ("PUT", "/v1/models") when ok && value is VersionBody pushed:
                var active = AdminListings.Models(node.Stores.Models, node.Bundles.History).Active;
                NodeLog.BundleApplied(
                    logger, pushed.Version, pushed.Titles, active is null ? "?" : active.Full ? "full" : "partial",
                    active?.KeyId ?? string.Empty, active?.Sha256 ?? string.Empty, request.Query.ContainsKey("force"));
                break;
            case ("PUT", "/v1/models"):
                NodeLog.BundleRefused(logger, status, reason, node.Stores.Models.Version);
                break;
            case ("POST", "/v1/models/rollback") when ok && value is VersionBody rolled:
                NodeLog.BundleRolledBack(logger, servedBefore, rolled.Version, rolled.Titles);
                break;
            case ("POST", "/v1/models/rollback"):
                NodeLog.RollbackRefused(logger, status, reason, node.Stores.Models.Version);
                break;
            case ("PUT", "/v1/profiles") when ok && value is ProfileBatchResult imported:
                NodeLog.ProfilesImported(logger, imported.Upserted);
                break;
            case ("PUT", "/v1/profiles"):
                NodeLog.ProfileImportRefused(logger, status, reason);
                break;
            case ("POST", "/v1/checkpoint") when ok && value is CheckpointResult checkpoint:
                NodeLog.CheckpointRequested(logger, checkpoint.DurationMs);
                break;
            case ("POST", "/v1/checkpoint"):
                NodeLog.CheckpointRequestFailed(logger, reason);
                break;
            case ("POST", "/v1/rewards") when ok && value is RewardBatchResult recorded:
                NodeLog.RewardsRecorded(logger, recorded.Statuses.Count);
                break;
            case ("POST", "/v1/rewards"):
                NodeLog.RewardsRefused(logger, status, reason);
                break;
        }
    }

    // Says which of the three it was, never what was sent.
    private string AuthFailureReason(HttpRequest request) =>
        string.IsNullOrEmpty(node.Options.AdminToken) ? "no EdgeSelector:AdminToken is configured, so the admin API is closed"
        : request.Headers.Authorization.Count == 0 ? "no Authorization header"
        : !request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.Ordinal) ? "Authorization is not a Bearer token"
        : "wrong bearer token";

    /// <summary>At most one event per interval; counts the ones skipped so the next event says how many.</summary>
    private sealed class RateLimit(TimeSpan every)
    {
        private readonly long _everyMs = (long)every.TotalMilliseconds;
        private long _nextMs;
        private long _suppressed;

        public bool TryEnter(out long suppressed)
        {
            var now = Environment.TickCount64;
            var next = Volatile.Read(ref _nextMs);
            if (now < next || Interlocked.CompareExchange(ref _nextMs, now + _everyMs, next) != next)
            {
                Interlocked.Increment(ref _suppressed);
                suppressed = 0;
                return false;
            }

            suppressed = Interlocked.Exchange(ref _suppressed, 0);
            return true;
        }
    }
}
