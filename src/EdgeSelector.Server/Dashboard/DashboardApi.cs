using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeSelector.Server.Admin;
using EdgeSelector.Server.Hosting;
using Microsoft.Extensions.Primitives;

namespace EdgeSelector.Server.Dashboard;

/// <summary>
/// The dashboard on the admin port (docs/dashboard.md): <c>GET /</c> and <c>GET /dashboard/{file}</c> serve the
/// embedded page; <c>GET /dashboard/stats</c> and <c>GET /dashboard/titles</c> are its open, read-only JSON (like
/// /metrics: counters and versions, no secret); <c>POST /v1/checkpoint</c> is the one admin action it adds, behind the
/// bearer token like every /v1 call. Rollback is the existing <c>POST /v1/models/rollback</c>.
/// </summary>
internal static class DashboardApi
{
    // The page loads only its own files and talks only to this origin; it never runs inline code, so a value that
    // slipped into the markup could not run, and the token it holds in memory cannot be sent elsewhere.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private const string NotBuilt =
        "<!doctype html><meta charset=utf-8><title>EdgeSelector</title><p>This binary was built without the dashboard " +
        "(-p:EdgeSelectorDashboard=false). Its data is still served: <a href=\"/dashboard/stats\">/dashboard/stats</a>, " +
        "<a href=\"/metrics\">/metrics</a>.</p>\n";

    public static void Map(WebApplication app, EdgeSelectorNode node, DashboardFeed feed)
    {
        var adminToken = Encoding.UTF8.GetBytes(node.Options.AdminToken);
        var assets = DashboardAssets.Load();
        app.MapGet("/", (HttpContext context) => assets.Built
            ? Serve(context, assets, "index.html")
            : Results.Content(NotBuilt, "text/html; charset=utf-8"));
        app.MapGet("/dashboard/{file}", (HttpContext context, string file) => Serve(context, assets, file));

        app.MapGet("/dashboard/stats", (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            return Results.Json(feed.Read(), DashboardJsonContext.Default.DashboardStats);
        });
        app.MapGet("/dashboard/titles", (HttpContext context, int? top, uint? title) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            return Results.Json(feed.Titles.Read(top ?? 12, title), DashboardJsonContext.Default.TitleSample);
        });

        var v1 = app.MapGroup("/v1");
        app.Services.GetRequiredService<AdminEventLog>().AddTo(v1); // the audit log (outermost: sees 401s too)
        v1.AddEndpointFilter(async (context, next) =>
            AdminApi.Authorized(context.HttpContext.Request, adminToken)
                ? await next(context)
                : Results.Json(new ErrorBody("missing or wrong bearer token"), AdminJsonContext.Default.ErrorBody, statusCode: 401));
        v1.MapPost("/checkpoint", () => CheckpointAsync(node.Stores));
    }

    private static IResult Serve(HttpContext context, DashboardAssets assets, string file)
    {
        if (!assets.TryGet(file, out var asset))
        {
            return Results.NotFound();
        }

        var headers = context.Response.Headers;
        headers.ETag = asset.ETag;
        // Revalidate every time: a node upgraded in place serves its new page at once, and a 304 costs nothing.
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        return context.Request.Headers.IfNoneMatch == new StringValues(asset.ETag)
            ? Results.StatusCode(StatusCodes.Status304NotModified)
            : Results.Bytes(asset.Bytes, asset.ContentType);
    }

    private static async Task<IResult> CheckpointAsync(NodeStores stores)
    {
        var start = Stopwatch.GetTimestamp();
        if (!await stores.CheckpointAsync(stores.WriteTimeout))
        {
            // Not durable in time (disk full or failing): the reason is on /healthz and in the log.
            return Results.Json(new ErrorBody($"checkpoint did not complete within {stores.WriteTimeout.TotalSeconds} s (disk full or failing?); retry", Retry: true), AdminJsonContext.Default.ErrorBody, statusCode: 503);
        }

        var elapsed = (long)Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return Results.Json(new CheckpointResult(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), elapsed), DashboardJsonContext.Default.CheckpointResult);
    }
}
