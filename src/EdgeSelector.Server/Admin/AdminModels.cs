using System.Text.Json.Serialization;

namespace EdgeSelector.Server.Admin;

/// <summary>A bundle this node applied (GET /v1/models).</summary>
public sealed record BundleInfo
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

    /// <summary>SHA-256 of the pushed bundle file, lowercase hex; empty for the built-in demo or synthetic catalog.</summary>
    public string Sha256 { get; init; } = string.Empty;
}

/// <summary>A store generation.</summary>
public sealed record GenerationListing
{
    public ulong Version { get; init; }

    public int Titles { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>Response of GET /v1/models.</summary>
public sealed record ModelsListing
{
    public ulong ActiveVersion { get; init; }

    public ulong PreviousVersion { get; init; }

    public int Titles { get; init; }

    public BundleInfo? Active { get; init; }

    public List<GenerationListing> Generations { get; init; } = [];

    public List<BundleInfo> History { get; init; } = [];
}

/// <summary>
/// An error body: what went wrong, for a person. <c>retry</c> is true on a 503: the node could not make the write
/// durable (disk full or failing, or an earlier write still waiting) and the same request should be sent again later.
/// </summary>
public sealed record ErrorBody(string Error, bool? Retry = null);

/// <summary>One condition of /healthz and /readyz.</summary>
public sealed record ConditionBody(string Component, string Reason, bool BlocksReadiness);

/// <summary>Response of GET /healthz (always 200 while the process serves): "ok", "degraded" or "not_ready", and why.</summary>
public sealed record HealthBody(string Status, List<ConditionBody> Conditions);

/// <summary>Response of GET /readyz: 200 when ready, 503 with the first blocking reason when not.</summary>
public sealed record ReadinessBody(bool Ready, string Status, string? Reason, ulong Bundle, int Titles, List<ConditionBody> Conditions);

/// <summary>Response of a push or rollback.</summary>
public sealed record VersionBody(ulong Version, int Titles, string Status);

/// <summary>One member profile of PUT /v1/profiles (docs/profiles.md).</summary>
public sealed record ProfileDto
{
    public ulong MemberId { get; init; }

    /// <summary>Two-letter country code.</summary>
    public string? Country { get; init; }

    /// <summary>Two-letter language code.</summary>
    public string? Language { get; init; }

    /// <summary>Device class name (tv, phone, tablet, web, console) or number.</summary>
    public string? Device { get; init; }

    /// <summary>Genre affinities by name (see <see cref="Core.Features.Genres"/>), each in [0, 1].</summary>
    public Dictionary<string, float>? Genres { get; init; }
}

/// <summary>Body of PUT /v1/profiles.</summary>
public sealed record ProfileBatch
{
    public List<ProfileDto> Profiles { get; init; } = [];
}

/// <summary>Response of PUT /v1/profiles.</summary>
public sealed record ProfileBatchResult(int Upserted);

/// <summary>One title of POST /v1/select.</summary>
public sealed record SelectTitleDto
{
    public uint TitleId { get; init; }

    public float Score { get; init; }

    public bool Interacted { get; init; }
}

/// <summary>Body of POST /v1/select (debugging: the binary protocol's SELECT_PAGE in JSON).</summary>
public sealed record SelectRequestDto
{
    public ulong MemberId { get; init; }

    public string? Country { get; init; }

    public string? Language { get; init; }

    public string? Device { get; init; }

    public int Hour { get; init; }

    public int DayOfWeek { get; init; }

    /// <summary>Genre affinities by name; absent = use the stored profile.</summary>
    public Dictionary<string, float>? Genres { get; init; }

    public long TimestampMs { get; init; }

    public List<SelectTitleDto> Titles { get; init; } = [];
}

/// <summary>One title's answer in POST /v1/select.</summary>
public sealed record SelectResultDto
{
    public uint TitleId { get; init; }

    public uint ImageId { get; init; }

    public string EventId { get; init; } = "0";

    public float Propensity { get; init; }

    public ulong ModelVersion { get; init; }

    public string Reason { get; init; } = "none";
}

/// <summary>Response of POST /v1/select.</summary>
public sealed record SelectResponseDto(List<SelectResultDto> Results);

/// <summary>Body of POST /v1/rewards: one reward or a batch.</summary>
public sealed record RewardDto
{
    /// <summary>The event id from the SELECT answer (decimal string, as JSON numbers lose 64-bit precision).</summary>
    public string EventId { get; init; } = "0";

    public bool PlayStarted { get; init; }

    public float MinutesWatched { get; init; }

    public float FractionCompleted { get; init; }

    public long TimestampMs { get; init; }
}

/// <summary>Body of POST /v1/rewards.</summary>
public sealed record RewardBatch
{
    public List<RewardDto> Rewards { get; init; } = [];
}

/// <summary>Response of POST /v1/rewards: one status per reward, in order.</summary>
public sealed record RewardBatchResult(List<string> Statuses);

/// <summary>Source-generated JSON for every admin body (native AOT: no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<BundleInfo>))]
[JsonSerializable(typeof(ModelsListing))]
[JsonSerializable(typeof(ErrorBody))]
[JsonSerializable(typeof(HealthBody))]
[JsonSerializable(typeof(ReadinessBody))]
[JsonSerializable(typeof(VersionBody))]
[JsonSerializable(typeof(ProfileBatch))]
[JsonSerializable(typeof(ProfileBatchResult))]
[JsonSerializable(typeof(SelectRequestDto))]
[JsonSerializable(typeof(SelectResponseDto))]
[JsonSerializable(typeof(RewardBatch))]
[JsonSerializable(typeof(RewardBatchResult))]
public sealed partial class AdminJsonContext : JsonSerializerContext;
