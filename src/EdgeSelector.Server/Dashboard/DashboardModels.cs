using System.Text.Json.Serialization;

namespace EdgeSelector.Server.Dashboard;

/// <summary>
/// GET /dashboard/stats: every number the dashboard shows, as raw counters (docs/dashboard.md). Rates and windowed
/// percentiles are the page's work (differences of two snapshots), so the server keeps no history and no timer.
/// Open like /metrics: it carries counters, versions, digests and times, never a token, a key, a member or an event.
/// </summary>
public sealed record DashboardStats
{
    /// <summary>When the snapshot was read (unix ms, the node's clock).</summary>
    public long AtMs { get; init; }

    /// <summary>The node: id, start time, policy, readiness, version.</summary>
    public required NodeSection Node { get; init; }

    /// <summary>Upper bounds of the latency buckets (microseconds); each op's <c>buckets</c> has one more, above the last.</summary>
    public required double[] LatencyBoundsMicros { get; init; }

    /// <summary>Requests and latency histogram per op, the <c>op</c> label of /metrics.</summary>
    public required List<OpSection> Requests { get; init; }

    /// <summary>Titles answered, model decisions and fallbacks (edgeselector_selections_total).</summary>
    public long Selections { get; init; }

    /// <summary>
    /// Titles the model decided, by whether a profile (or the request's genres) was known: <c>known</c>, <c>none</c>
    /// (reason <c>no_profile</c>: still the model's choice) (edgeselector_model_decisions_total).
    /// </summary>
    public required Dictionary<string, long> ModelDecisions { get; init; }

    /// <summary>Titles answered with the default image instead of a model decision, by reason (edgeselector_fallbacks_total).</summary>
    public required Dictionary<string, long> Fallbacks { get; init; }

    /// <summary>Rewards by status (edgeselector_rewards_total).</summary>
    public required Dictionary<string, long> Rewards { get; init; }

    /// <summary>Requests refused as unreadable on any front door, as /metrics counts them.</summary>
    public long ProtocolErrors { get; init; }

    /// <summary>Requests read but not yet answered, on every connection.</summary>
    public long InFlight { get; init; }

    /// <summary>TCP connections of the front doors.</summary>
    public required ConnectionSection Connections { get; init; }

    /// <summary>The impression log: pages appended, dropped, lag.</summary>
    public required LogSection ImpressionLog { get; init; }

    /// <summary>The reward log: rewards appended, lag.</summary>
    public required LogSection RewardLog { get; init; }

    /// <summary>The process's memory and garbage collections.</summary>
    public required MemorySection Memory { get; init; }

    /// <summary>The bundle served and the ones before it.</summary>
    public required BundleSection Bundle { get; init; }

    /// <summary>The fleet this node belongs to, when it is part of one (absent otherwise).</summary>
    public FleetSection? Fleet { get; init; }
}

/// <summary>The node itself.</summary>
public sealed record NodeSection
{
    /// <summary>The node's id (EdgeSelector:NodeId), part of every event id it issues.</summary>
    public int NodeId { get; init; }

    /// <summary>When the process started, Unix milliseconds.</summary>
    public long StartedAtMs { get; init; }

    /// <summary>The exploration policy serving (EpsilonGreedy, Thompson, ...).</summary>
    public string Policy { get; init; } = string.Empty;

    /// <summary>What /readyz answers: 200 or not.</summary>
    public bool Ready { get; init; }

    /// <summary>Why the node is (not) ready, in words, as /readyz says it.</summary>
    public string Readiness { get; init; } = string.Empty;

    /// <summary>The server's assembly version.</summary>
    public string Version { get; init; } = string.Empty;
}

/// <summary>One op's requests and latency histogram (per-bucket counts, not cumulative as in /metrics).</summary>
public sealed record OpSection(string Op, long Total, long SumMicros, long[] Buckets);

/// <summary>Connections of every TCP front door (binary, and RESP when on), summed, and per listener.</summary>
public sealed record ConnectionSection(long Open, long Accepted, long Rejected, List<ListenerSection> Listeners);

/// <summary>One TCP front door's connections (the <c>listener</c> label of /metrics).</summary>
public sealed record ListenerSection(string Listener, long Open, long Limit, long Accepted, long Rejected);

/// <summary>An append-only log: entries written and how far they are from disk.</summary>
public sealed record LogSection
{
    /// <summary>False when the node does not keep this log (EdgeSelector:LogImpressions=false).</summary>
    public bool Enabled { get; init; }

    /// <summary>Records appended (impressions: edgeselector_impressions_total{result="logged"}; rewards: accepted).</summary>
    public long Appended { get; init; }

    /// <summary>Records the log could not take (impressions only).</summary>
    public long Dropped { get; init; }

    /// <summary>Bytes appended but not yet durable.</summary>
    public long LagBytes { get; init; }

    /// <summary>Bytes the log holds on disk and in memory.</summary>
    public long Bytes { get; init; }
}

/// <summary>The process's memory.</summary>
public sealed record MemorySection
{
    /// <summary>Resident set (Environment.WorkingSet).</summary>
    public long WorkingSetBytes { get; init; }

    /// <summary>Managed heap after the last collection (GCMemoryInfo.HeapSizeBytes).</summary>
    public long GcHeapBytes { get; init; }

    /// <summary>Memory the GC has committed.</summary>
    public long GcCommittedBytes { get; init; }

    /// <summary>Bytes allocated since start (/metrics: dotnet_gc_heap_total_allocated_bytes_total).</summary>
    public long AllocatedBytes { get; init; }

    /// <summary>Collections of generation 0, 1 and 2 (GC.CollectionCount: every collection of that generation or higher; /metrics dotnet_gc_collections_total counts each collection once, under its own generation).</summary>
    public required int[] GcCollections { get; init; }
}

/// <summary>The active bundle and the ones before it.</summary>
public sealed record BundleSection
{
    /// <summary>Version of the bundle being served (0 if none).</summary>
    public ulong ActiveVersion { get; init; }

    /// <summary>The version a rollback returns to (0: none).</summary>
    public ulong PreviousVersion { get; init; }

    /// <summary>Number of titles in the active bundle.</summary>
    public int Titles { get; init; }

    /// <summary>
    /// The active bundle's manifest, from the applied-bundle history kept in the model store (absent when the active
    /// version is not among the last ten applied, e.g. a rollback to an older generation).
    /// </summary>
    public BundleEntry? Active { get; init; }

    /// <summary>The last bundles applied, oldest first.</summary>
    public required List<BundleEntry> History { get; init; }
}

/// <summary>A bundle as the dashboard shows it: the manifest without the free-form training metrics.</summary>
public sealed record BundleEntry
{
    /// <summary>The bundle's version.</summary>
    public ulong Version { get; init; }

    /// <summary>The version it was trained from (0 for the first).</summary>
    public ulong ParentVersion { get; init; }

    /// <summary>When the trainer made it, Unix milliseconds.</summary>
    public long CreatedAtMs { get; init; }

    /// <summary>When this node applied it, Unix milliseconds.</summary>
    public long AppliedAtMs { get; init; }

    /// <summary>Start of its training data's time range, Unix milliseconds (0 for a catalog-only bundle).</summary>
    public long TrainingFromMs { get; init; }

    /// <summary>End of its training data's time range, Unix milliseconds.</summary>
    public long TrainingToMs { get; init; }

    /// <summary>True when it held every title; false for a partial bundle.</summary>
    public bool Full { get; init; }

    /// <summary>Number of title models it carried.</summary>
    public int Titles { get; init; }

    /// <summary>Key id of the signature (who made it); empty for the built-in catalogs.</summary>
    public string KeyId { get; init; } = string.Empty;

    /// <summary>SHA-256 of the bundle file; empty for the built-in catalogs.</summary>
    public string Sha256 { get; init; } = string.Empty;
}

/// <summary>GET /dashboard/titles: candidate images of the busiest titles in a sample of recent decisions.</summary>
public sealed record TitleSample
{
    /// <summary>When the sample was read, Unix milliseconds (the node's clock).</summary>
    public long AtMs { get; init; }

    /// <summary>False when the node keeps no impression log: there is nothing to sample.</summary>
    public bool Enabled { get; init; }

    /// <summary>Decisions read from the newest part of the impression log.</summary>
    public int Decisions { get; init; }

    /// <summary>Oldest decision time in the sample (unix ms; 0 when empty).</summary>
    public long FromMs { get; init; }

    /// <summary>Newest decision time in the sample (Unix ms; 0 when empty).</summary>
    public long ToMs { get; init; }

    /// <summary>Titles of the sample, most decided first.</summary>
    public required List<TitleView> Titles { get; init; }
}

/// <summary>One title in the sample.</summary>
public sealed record TitleView
{
    /// <summary>The title.</summary>
    public uint TitleId { get; init; }

    /// <summary>Decisions for the title in the sample, fallbacks included.</summary>
    public int Decisions { get; init; }

    /// <summary>Of those, answered with the default image for a reason (unknown title, deadline, ...).</summary>
    public int Fallbacks { get; init; }

    /// <summary>Model version of the newest decision (0 for fallbacks only).</summary>
    public ulong ModelVersion { get; init; }

    /// <summary>The title's default image in the active bundle (0 when the bundle has no model for it).</summary>
    public uint DefaultImageId { get; init; }

    /// <summary>The candidates of the active model (and any image of the sample no longer in it), in model order.</summary>
    public required List<ImageView> Images { get; init; }
}

/// <summary>One candidate image: how often the model chose it in the sample and with what logged propensity.</summary>
public sealed record ImageView
{
    /// <summary>The image.</summary>
    public uint ImageId { get; init; }

    /// <summary>Model decisions that chose it (fallbacks are not counted here).</summary>
    public int Decisions { get; init; }

    /// <summary>Its share of the title's model decisions, 0-1.</summary>
    public double Share { get; init; }

    /// <summary>Mean logged propensity of those decisions (0 when none).</summary>
    public double MeanPropensity { get; init; }

    /// <summary>Lowest logged propensity of those decisions (0 when none).</summary>
    public double MinPropensity { get; init; }

    /// <summary>Highest logged propensity of those decisions (0 when none).</summary>
    public double MaxPropensity { get; init; }

    /// <summary>False for an image of the sample that the active model no longer has.</summary>
    public bool InModel { get; init; }
}

/// <summary>Response of POST /v1/checkpoint.</summary>
public sealed record CheckpointResult(long CheckpointedAtMs, long DurationMs);

/// <summary>Source-generated JSON for the dashboard (native AOT: no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DashboardStats))]
[JsonSerializable(typeof(TitleSample))]
[JsonSerializable(typeof(CheckpointResult))]
public sealed partial class DashboardJsonContext : JsonSerializerContext;
