using System.Text.Json.Serialization;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// A bundle this node applied: its manifest and when. The history (the last ten) is kept in the model store with the
/// bundles themselves (metadata slot <see cref="BundleService.HistorySlot"/>), so it is durable and restored with them.
/// </summary>
internal sealed record AppliedBundle
{
    public ulong Version { get; init; }

    public ulong ParentVersion { get; init; }

    public long CreatedAtMs { get; init; }

    public long TrainingFromMs { get; init; }

    public long TrainingToMs { get; init; }

    public bool Full { get; init; }

    public int Titles { get; init; }

    public long AppliedAtMs { get; init; }

    /// <summary>The training metrics the bundle carried (JSON text).</summary>
    public string Metrics { get; init; } = "{}";

    /// <summary>Key id the bundle was signed with (who made it); empty for the built-in demo or synthetic catalog.</summary>
    public string KeyId { get; init; } = string.Empty;

    /// <summary>
    /// SHA-256 of the pushed bundle file, lowercase hex (what <c>sha256sum</c> prints); a re-push of the same file is
    /// recognised and answered "already applied". Empty for the built-in demo or synthetic catalog.
    /// </summary>
    public string Sha256 { get; init; } = string.Empty;
}

/// <summary>
/// Source-generated JSON of what Serving persists (the bundle history); the same camelCase shape as the
/// <c>bundles.json</c> older versions wrote, which <see cref="LegacyFiles"/> migrates.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<AppliedBundle>))]
internal sealed partial class ServingJsonContext : JsonSerializerContext;
