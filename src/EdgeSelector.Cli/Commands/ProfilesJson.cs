using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeSelector.Cli.Commands;

/// <summary>One member profile as PUT /v1/profiles takes it (docs/profiles.md).</summary>
internal sealed record ProfileRecord
{
    public ulong MemberId { get; init; }

    public string? Country { get; init; }

    public string? Language { get; init; }

    public string? Device { get; init; }

    public Dictionary<string, float>? Genres { get; init; }
}

/// <summary>Body of PUT /v1/profiles.</summary>
internal sealed record ProfileBatchBody(List<ProfileRecord> Profiles);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, AllowTrailingCommas = true, ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(ProfileRecord))]
[JsonSerializable(typeof(List<ProfileRecord>))]
[JsonSerializable(typeof(ProfileBatchBody))]
internal sealed partial class ProfilesJsonContext : JsonSerializerContext;
