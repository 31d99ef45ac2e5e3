using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using EdgeSelector.Server;
using EdgeSelector.Server.Admin;
using EdgeSelector.Server.Dashboard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// GET /openapi.json stays true to the code (docs/admin-api.md, "OpenAPI"): every route the node maps is documented
/// (a new route without a description fails here) and nothing undocumented-but-mapped or documented-but-gone exists;
/// every /v1 operation declares the bearer scheme and its 401; each JSON body's schema has exactly the properties of
/// its source-generated contract.
/// </summary>
public sealed class OpenApiDocumentTests
{
    [Fact]
    public async Task Document_IsServedOpen_AndListsExactlyTheMappedRoutes()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "es-oas-" + Guid.NewGuid().ToString("N"));
        var adminPort = FreePort();
        var (app, _) = EdgeSelectorHost.Build(
        [
            $"--EdgeSelector:BinaryPort={FreePort()}", $"--EdgeSelector:AdminPort={adminPort}", $"--EdgeSelector:DataDir={dataDir}",
            "--EdgeSelector:AdminToken=t", "--EdgeSelector:ModelMemoryMB=32", "--EdgeSelector:ProfileMemoryMB=32", "--EdgeSelector:ImpressionLogMemoryMB=8",
        ]);
        try
        {
            await app.StartAsync();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}") }; // no token: the document is open
            var response = await http.GetAsync("/openapi.json");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var paths = document.RootElement.GetProperty("paths");

            var mapped = ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
                .SelectMany(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()!.HttpMethods.Select(m => $"{m} {e.RoutePattern.RawText}"))
                .ToHashSet();
            var documented = paths.EnumerateObject()
                .SelectMany(p => p.Value.EnumerateObject().Select(o => $"{o.Name.ToUpperInvariant()} {p.Name}"))
                .ToHashSet();
            Assert.True(mapped.Count >= 15, string.Join(", ", mapped));
            Assert.Empty(mapped.Except(documented)); // a mapped route with no description
            Assert.Empty(documented.Except(mapped)); // a description of a route that is not mapped
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public void EveryV1Operation_NeedsTheBearerToken_AndDocuments401AndItsErrors()
    {
        using var document = JsonDocument.Parse(OpenApiDocument.Load());
        foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                var responses = operation.Value.GetProperty("responses");
                Assert.True(responses.EnumerateObject().Any(), $"{operation.Name} {path.Name} has no responses");
                var secured = operation.Value.TryGetProperty("security", out var security) && security.GetRawText().Contains("bearer", StringComparison.Ordinal);
                Assert.True(path.Name.StartsWith("/v1/", StringComparison.Ordinal) == secured, $"{operation.Name} {path.Name}: security must be declared exactly on /v1 routes");
                if (secured)
                {
                    Assert.True(responses.TryGetProperty("401", out _), $"{operation.Name} {path.Name} does not document 401");
                    foreach (var error in responses.EnumerateObject().Where(r => r.Name[0] is '4' or '5'))
                    {
                        // Every JSON error of /v1 is {"error": "..."} (AdminApi.Error).
                        Assert.Contains("#/components/schemas/ErrorBody", error.Value.GetRawText());
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData("ErrorBody", typeof(ErrorBody))]
    [InlineData("VersionBody", typeof(VersionBody))]
    [InlineData("BundleInfo", typeof(BundleInfo))]
    [InlineData("GenerationListing", typeof(GenerationListing))]
    [InlineData("ModelsListing", typeof(ModelsListing))]
    [InlineData("ProfileDto", typeof(ProfileDto))]
    [InlineData("ProfileBatch", typeof(ProfileBatch))]
    [InlineData("ProfileBatchResult", typeof(ProfileBatchResult))]
    [InlineData("SelectTitleDto", typeof(SelectTitleDto))]
    [InlineData("SelectRequestDto", typeof(SelectRequestDto))]
    [InlineData("SelectResultDto", typeof(SelectResultDto))]
    [InlineData("SelectResponseDto", typeof(SelectResponseDto))]
    [InlineData("RewardDto", typeof(RewardDto))]
    [InlineData("RewardBatch", typeof(RewardBatch))]
    [InlineData("RewardBatchResult", typeof(RewardBatchResult))]
    [InlineData("CheckpointResult", typeof(CheckpointResult))]
    public void Schema_HasExactlyThePropertiesOfItsJsonContract(string schema, Type type)
    {
        using var document = JsonDocument.Parse(OpenApiDocument.Load());
        var documented = document.RootElement.GetProperty("components").GetProperty("schemas").GetProperty(schema)
            .GetProperty("properties").EnumerateObject().Select(p => p.Name).Order();
        var info = type == typeof(CheckpointResult) ? DashboardJsonContext.Default.GetTypeInfo(type) : AdminJsonContext.Default.GetTypeInfo(type);
        Assert.NotNull(info);
        Assert.Equal(info!.Properties.Select(p => p.Name).Order(), documented);
    }
}
