using System.Globalization;
using EdgeSelector.Server.Admin;
using EdgeSelector.Server.Hosting;

namespace EdgeSelector.Server.Rollout;

/// <summary>
/// The rollout's admin endpoints under the authenticated <c>/v1</c> group (docs/admin-api.md, docs/rollout.md):
/// the candidate, the arms' take fractions, the test and the decisions; start, resize, promote, roll back.
/// </summary>
internal static class RolloutApi
{
    public static void Map(RouteGroupBuilder v1, EdgeSelectorNode node)
    {
        var rollout = node.Rollout;
        v1.MapGet("/rollout", async () => Results.Json(await rollout.StatusAsync().ConfigureAwait(false), RolloutJsonContext.Default.RolloutStatus));

        v1.MapPut("/rollout/candidate", async (HttpRequest request, string? fraction) =>
        {
            double? share = null;
            if (fraction is not null)
            {
                if (!double.TryParse(fraction, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
                {
                    return Error(400, $"fraction '{fraction}' is not a number in [0, 1]");
                }

                share = parsed;
            }

            var body = await AdminApi.ReadBody(request, (long)node.Options.MaxAdminBodyMB << 20);
            return body is null
                ? Error(413, $"bundle larger than EdgeSelector:MaxAdminBodyMB ({node.Options.MaxAdminBodyMB} MB)")
                : Answer(await rollout.StartAsync(body, share, "operator"));
        });

        v1.MapPut("/rollout/fraction", async (HttpRequest request) =>
        {
            var body = await AdminApi.ReadBody(request, 1 << 16);
            FractionBody? parsed = null;
            try
            {
                parsed = body is null ? null : System.Text.Json.JsonSerializer.Deserialize(body, RolloutJsonContext.Default.FractionBody);
            }
            catch (System.Text.Json.JsonException e)
            {
                return Error(400, $"invalid JSON: {e.Message}");
            }

            return Answer(await rollout.SetFractionAsync(parsed?.Fraction, "operator"));
        });

        v1.MapPost("/rollout/promote", async () => Answer(await rollout.PromoteNowAsync("operator")));
        v1.MapPost("/rollout/rollback", async (string? reason) => Answer(await rollout.RollbackNowAsync("operator", reason)));
    }

    private static IResult Answer(RolloutOutcome outcome) => outcome.Success
        ? Results.Json(new RolloutResult(outcome.Action, outcome.CandidateVersion, outcome.Fraction, outcome.ActiveVersion, outcome.Message), RolloutJsonContext.Default.RolloutResult, statusCode: outcome.Status)
        : Error(outcome.Status, outcome.Message);

    private static IResult Error(int status, string message) =>
        Results.Json(new ErrorBody(message), AdminJsonContext.Default.ErrorBody, statusCode: status);
}
