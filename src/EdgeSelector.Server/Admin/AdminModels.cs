using System.Text.Json.Serialization;

namespace EdgeSelector.Server.Admin;

/// <summary>A bundle this node applied (GET /v1/models).</summary>
public sealed record BundleInfo
{
    /// <summary>The bundle's version (from its manifest).</summary>
    public ulong Version { get; init; }

    /// <summary>The version it was trained from (0 for the first); a partial bundle is a delta over it.</summary>
    public ulong ParentVersion { get; init; }

    /// <summary>When the trainer made the bundle, Unix milliseconds.</summary>
    public long CreatedAtMs { get; init; }

    /// <summary>Start of its training data's time range, Unix milliseconds (0 for a catalog-only bundle).</summary>
    public long TrainingFromMs { get; init; }

    /// <summary>End of its training data's time range, Unix milliseconds.</summary>
    public long TrainingToMs { get; init; }

    /// <summary>True when it held every title (titles it lacked were removed); false for a partial bundle.</summary>
    public bool Full { get; init; }

    /// <summary>Number of title models it carried.</summary>
    public int Titles { get; init; }

    /// <summary>When this node applied it, Unix milliseconds.</summary>
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
    /// <summary>Bundle version of the generation.</summary>
    public ulong Version { get; init; }

    /// <summary>Number of titles the generation serves.</summary>
    public int Titles { get; init; }

    /// <summary>When the store made the generation.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>Response of GET /v1/models.</summary>
public sealed record ModelsListing
{
    /// <summary>Version of the bundle being served (0 if none).</summary>
    public ulong ActiveVersion { get; init; }

    /// <summary>Version a rollback would return to (0 if none).</summary>
    public ulong PreviousVersion { get; init; }

    /// <summary>Number of titles in the active bundle.</summary>
    public int Titles { get; init; }

    /// <summary>The active bundle's manifest, when this node's history still holds it.</summary>
    public BundleInfo? Active { get; init; }

    /// <summary>The model store's kept generations, oldest first; the last one is active.</summary>
    public List<GenerationListing> Generations { get; init; } = [];

    /// <summary>The last bundles applied (at most 10), oldest first.</summary>
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
    /// <summary>The member the profile belongs to.</summary>
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
    /// <summary>The profiles to insert or replace, each whole.</summary>
    public List<ProfileDto> Profiles { get; init; } = [];
}

/// <summary>Response of PUT /v1/profiles.</summary>
public sealed record ProfileBatchResult(int Upserted);

/// <summary>One title of POST /v1/select.</summary>
public sealed record SelectTitleDto
{
    /// <summary>The title whose image is to be chosen.</summary>
    public uint TitleId { get; init; }

    /// <summary>The recommender's score of the title (a feature of the model).</summary>
    public float Score { get; init; }

    /// <summary>True when the member interacted with the title before (a feature of the model).</summary>
    public bool Interacted { get; init; }
}

/// <summary>Body of POST /v1/select (debugging: the binary protocol's SELECT_PAGE in JSON).</summary>
public sealed record SelectRequestDto
{
    /// <summary>The member asking; their stored profile is read unless the request carries genres.</summary>
    public ulong MemberId { get; init; }

    /// <summary>Two-letter country code; absent = the stored profile's.</summary>
    public string? Country { get; init; }

    /// <summary>Two-letter language code; absent = the stored profile's.</summary>
    public string? Language { get; init; }

    /// <summary>Device class name (tv, phone, tablet, web, console) or number; absent = the stored profile's.</summary>
    public string? Device { get; init; }

    /// <summary>The member's local hour of day, 0-23.</summary>
    public int Hour { get; init; }

    /// <summary>The member's local day of week, 0-6 (0 = Sunday).</summary>
    public int DayOfWeek { get; init; }

    /// <summary>Genre affinities by name; absent = use the stored profile.</summary>
    public Dictionary<string, float>? Genres { get; init; }

    /// <summary>Request time, Unix milliseconds; 0 = the server's clock.</summary>
    public long TimestampMs { get; init; }

    /// <summary>The page's titles, in order (1 to MaxTitlesPerPage).</summary>
    public List<SelectTitleDto> Titles { get; init; } = [];
}

/// <summary>One title's answer in POST /v1/select.</summary>
public sealed record SelectResultDto
{
    /// <summary>The title, as asked.</summary>
    public uint TitleId { get; init; }

    /// <summary>The image to show; 0 when no image is known for the title.</summary>
    public uint ImageId { get; init; }

    /// <summary>The impression's event id (decimal string, as JSON numbers lose 64-bit precision); send it back with the reward.</summary>
    public string EventId { get; init; } = "0";

    /// <summary>The event's tag (decimal string); send it back with the reward.</summary>
    public string EventTag { get; init; } = "0";

    /// <summary>Probability with which the policy chose this image (1 for a default image).</summary>
    public float Propensity { get; init; }

    /// <summary>Version of the model that chose (0 when a default image was answered).</summary>
    public ulong ModelVersion { get; init; }

    /// <summary>Why this image (docs/protocol.md): "none" when the model chose with a stored profile, else the reason's name (a choice without a profile, or a fallback).</summary>
    public string Reason { get; init; } = "none";
}

/// <summary>Response of POST /v1/select.</summary>
public sealed record SelectResponseDto(List<SelectResultDto> Results);

/// <summary>Body of POST /v1/rewards: one reward or a batch.</summary>
public sealed record RewardDto
{
    /// <summary>The event id from the SELECT answer (decimal string, as JSON numbers lose 64-bit precision).</summary>
    public string EventId { get; init; } = "0";

    /// <summary>The event tag from the SELECT answer (decimal string); absent = no tag, answered "unverified".</summary>
    public string? EventTag { get; init; }

    /// <summary>True when the member started playing the title after seeing the image.</summary>
    public bool PlayStarted { get; init; }

    /// <summary>Minutes of the title watched after the impression (must be finite).</summary>
    public float MinutesWatched { get; init; }

    /// <summary>Share of the title watched, 0 to 1 (must be finite).</summary>
    public float FractionCompleted { get; init; }

    /// <summary>When the outcome was observed, Unix milliseconds; 0 = the server's clock.</summary>
    public long TimestampMs { get; init; }
}

/// <summary>Body of POST /v1/rewards.</summary>
public sealed record RewardBatch
{
    /// <summary>The rewards, each answered with its own status in the same order.</summary>
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
