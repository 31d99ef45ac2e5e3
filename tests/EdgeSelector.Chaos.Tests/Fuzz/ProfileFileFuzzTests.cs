using System.Text;
using System.Text.Json;
using CsCheck;
using EdgeSelector.Chaos.Tests.Infrastructure;
using EdgeSelector.Cli.Commands;
using EdgeSelector.Cli.Infrastructure;

namespace EdgeSelector.Chaos.Tests.Fuzz;

/// <summary>
/// The profile file reader of <c>edgesel profiles import</c> (docs/profiles.md: JSON lines or one JSON array): any
/// file gives profiles or a <see cref="CommandInputException"/> / <see cref="JsonException"/> (which the command turns
/// into a message and exit code 1), never anything else. The profiles themselves are checked by the node (PUT
/// /v1/profiles, fuzzed in <see cref="ServerFuzzTests"/>).
/// </summary>
public sealed class ProfileFileFuzzTests : IDisposable
{
    private const string Line = """{"memberId":7000001,"country":"US","language":"EN","device":"tv","genres":{"comedy":0.8}}""";

    private readonly TempDirectory _dir = new("es-chaos-profiles-");

    [Fact]
    public Task AnyProfileFile_ReadsOrIsRefusedWithAMessage() =>
        Fuzz.RunAsync(Gen.OneOf(
            JsonMutations.Of("[" + Line + "," + Line + "]"),
            JsonMutations.Of(Line).Array[1, 4].Select(lines => lines.SelectMany(l => l.Append((byte)'\n')).ToArray()),
            Gen.Byte.Array[0, 100]), ReadAll, iterations: Math.Max(500, ChaosBudget.FuzzIterations / 5), print: b => Encoding.UTF8.GetString(b));

    public void Dispose() => _dir.Dispose();

    private void ReadAll(byte[] bytes)
    {
        var file = Path.Combine(_dir.Path, Guid.NewGuid().ToString("N") + ".jsonl");
        File.WriteAllBytes(file, bytes);
        try
        {
            foreach (var (profile, where) in ProfilesImportCommand.Read(file))
            {
                Assert.NotNull(profile);
                Assert.True(where >= 1);
            }
        }
        catch (Exception e) when (e is CommandInputException or JsonException)
        {
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
