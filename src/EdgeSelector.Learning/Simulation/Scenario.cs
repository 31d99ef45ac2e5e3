using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeSelector.Learning.Simulation;

/// <summary>
/// Sizes and effect strengths of a simulated world, read from a JSON scenario file (snake_case keys; any key left out
/// keeps the default below). Effects are on the logit scale of P(quality play). See docs/simulation.md.
/// Properties are settable, not init-only: System.Text.Json source generation sets every init-only property, so a
/// key missing from the file would become 0 instead of keeping its default.
/// </summary>
public sealed record Scenario
{
    /// <summary>Seed of the world (members, titles, images); the log has its own seed.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Number of members.</summary>
    public int Members { get; set; } = 500;

    /// <summary>Number of titles.</summary>
    public int Titles { get; set; } = 100;

    /// <summary>Fewest candidate images per title (index 0 is the default image).</summary>
    public int ImagesMin { get; set; } = 3;

    /// <summary>Most candidate images per title.</summary>
    public int ImagesMax { get; set; } = 6;

    /// <summary>Zipf exponent of title popularity (P(title of rank r) ∝ r^-s).</summary>
    public double ZipfExponent { get; set; } = 1.0;

    /// <summary>Logged impressions <c>simulate</c> writes by default.</summary>
    public int Impressions { get; set; } = 100_000;

    /// <summary>The logging policy (a built-in policy name, see <see cref="WorldPolicies"/>).</summary>
    public string LoggingPolicy { get; set; } = "uniform";

    /// <summary>Intercept of the quality-play logit.</summary>
    public double BaseLogit { get; set; } = -2.0;

    /// <summary>Standard deviation of the per-title logit effect (image-independent).</summary>
    public double TitleEffectSd { get; set; } = 0.5;

    /// <summary>Weight of member taste · title genres (image-independent).</summary>
    public double TitleTasteWeight { get; set; } = 3.0;

    /// <summary>Weight of the recommender score minus 0.5 (image-independent).</summary>
    public double RecommenderWeight { get; set; } = 1.0;

    /// <summary>Logit added when the member interacted with the title before (image-independent).</summary>
    public double InteractedWeight { get; set; } = 0.5;

    /// <summary>Standard deviation of the per-image logit effect, the same for every member.</summary>
    public double ImageEffectSd { get; set; } = 0.2;

    /// <summary>Weight of member taste · image theme: the personal part artwork personalisation can exploit.</summary>
    public double PersonalWeight { get; set; } = 4.0;

    /// <summary>
    /// Share of the personal part that remains when the member has interacted with the title before (1 = artwork
    /// matters as much; below 1 it matters more to members who do not know the title yet).
    /// </summary>
    public double InteractedPersonalFactor { get; set; } = 1.0;

    /// <summary>Share of non-default images that are click-bait.</summary>
    public double ClickbaitShare { get; set; } = 0.2;

    /// <summary>Logit change of quality play for a click-bait image (negative: they disappoint).</summary>
    public double ClickbaitQualityEffect { get; set; } = -0.3;

    /// <summary>Probability that a member who will not enjoy the title starts it anyway.</summary>
    public double BaseBounce { get; set; } = 0.05;

    /// <summary>Extra such probability for a click-bait image: more play starts, no more quality plays.</summary>
    public double ClickbaitBounce { get; set; } = 0.25;

    /// <summary>Reads a scenario file; throws <see cref="InvalidDataException"/> naming the problem.</summary>
    public static Scenario Load(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            var scenario = JsonSerializer.Deserialize(stream, ScenarioJsonContext.Default.Scenario)
                ?? throw new InvalidDataException($"{path}: empty scenario.");
            return scenario.Validate();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Throws <see cref="InvalidDataException"/> when a size or probability is out of range.</summary>
    public Scenario Validate()
    {
        Check(Members >= 1, "members must be at least 1");
        Check(Titles >= 1, "titles must be at least 1");
        Check(ImagesMin >= 1 && ImagesMax >= ImagesMin && ImagesMax <= 256, "need 1 <= images_min <= images_max <= 256");
        Check(Impressions >= 1, "impressions must be at least 1");
        Check(ZipfExponent >= 0, "zipf_exponent must be >= 0");
        Check(ClickbaitShare is >= 0 and <= 1, "clickbait_share must be in [0, 1]");
        Check(double.IsFinite(InteractedPersonalFactor), "interacted_personal_factor must be a number");
        Check(BaseBounce >= 0 && ClickbaitBounce >= 0 && BaseBounce + ClickbaitBounce <= 1, "bounce probabilities must be in [0, 1]");
        Check(WorldPolicies.Names.Contains(LoggingPolicy), $"logging_policy must be one of {string.Join(", ", WorldPolicies.Names)}");
        return this;
    }

    private static void Check(bool ok, string message)
    {
        if (!ok)
        {
            throw new InvalidDataException("scenario: " + message);
        }
    }
}

/// <summary>Source-generated JSON metadata for <see cref="Scenario"/> (no reflection: the library is AOT-compatible).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow, ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(Scenario))]
internal sealed partial class ScenarioJsonContext : JsonSerializerContext;
