using System.Net;
using System.Text;
using System.Text.Json;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// The durability promise for admin writes, against a real process: whatever was answered 200 (push, rollback, profile
/// import) is there after kill -9 and a restart with no control plane (docs/reliability.md).
/// </summary>
public sealed class DurableAdminWriteTests : IDisposable
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "es-durable-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dataDir))
        {
            Directory.Delete(_dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task PushRollbackAndProfileImport_AnsweredOk_SurviveKill9()
    {
        using (var node = ServerProcess.Start(_dataDir, "--EdgeSelector:Demo=true", "--EdgeSelector:Policy=Greedy"))
        {
            await node.WaitReadyAsync();
            Assert.Equal(HttpStatusCode.OK, (await node.Http.PutAsync("/v1/models", new ByteArrayContent(ServerTests.Bundle(2, ServerTests.TitleWithWinner(1003, 2, 100302))))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await node.Http.PutAsync("/v1/models", new ByteArrayContent(ServerTests.Bundle(3, ServerTests.TitleWithWinner(1003, 3, 100303))))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await node.Http.PostAsync("/v1/models/rollback", null)).StatusCode);
            var profiles = "{\"profiles\":[{\"memberId\":777001,\"country\":\"DE\",\"device\":\"web\",\"genres\":{\"scifi\":0.9}}]}";
            Assert.Equal(HttpStatusCode.OK, (await node.Http.PutAsync("/v1/profiles", new StringContent(profiles, Encoding.UTF8, "application/json"))).StatusCode);
            node.Kill9();
        }

        using (var node = ServerProcess.Start(_dataDir, "--EdgeSelector:Demo=true", "--EdgeSelector:Policy=Greedy"))
        {
            await node.WaitReadyAsync();
            using var models = JsonDocument.Parse(await node.Http.GetStringAsync("/v1/models"));
            Assert.Equal(2ul, models.RootElement.GetProperty("activeVersion").GetUInt64());
            Assert.Equal(1ul, models.RootElement.GetProperty("previousVersion").GetUInt64());
            var select = await node.Http.PostAsync("/v1/select", new StringContent("{\"memberId\":777001,\"titles\":[{\"titleId\":1003}]}"));
            var body = await select.Content.ReadAsStringAsync();
            Assert.Contains("\"reason\":\"none\"", body); // the imported profile is there: not "no_profile"
            Assert.Contains("\"imageId\":100302", body); // greedy: version 2's winner (ε-greedy could explore)
        }
    }
}
