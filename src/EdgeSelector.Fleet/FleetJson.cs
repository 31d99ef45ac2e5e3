using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeSelector.Fleet;

/// <summary>
/// The value of <see cref="FleetNames.BundlePointerKey"/>: which bundle every node should serve. Flipping it is a
/// deployment; flipping it back to an older version is a rollback (the objects stay, immutable).
/// </summary>
public sealed record BundlePointer
{
    /// <summary>Bundle version (from its manifest).</summary>
    public ulong Version { get; init; }

    /// <summary>Object name in <see cref="FleetNames.BundleBucket"/>.</summary>
    public string Object { get; init; } = string.Empty;

    /// <summary>SHA-256 of the bundle bytes, lowercase hex: a node refuses a download that does not match.</summary>
    public string Sha256 { get; init; } = string.Empty;

    /// <summary>Size of the bundle in bytes.</summary>
    public long Size { get; init; }

    /// <summary>When the pointer was flipped (unix ms); <c>fleet status</c> measures "not applied within" from it.</summary>
    public long PointedAtMs { get; init; }
}

/// <summary>
/// The value of <see cref="FleetNames.CandidatePointerKey"/>: the fleet's candidate bundle, its share of members and
/// the control plane's decision on it (docs/rollout.md, "Fleet"). Every node tries a <c>running</c> candidate
/// (<c>PUT /v1/rollout/candidate</c>'s checks); <c>promoted</c> makes it active everywhere (the bundle pointer moves to
/// it too), <c>rolled_back</c> withdraws it everywhere. Written by <c>edgesel rollout --nats</c> and <c>edgesel train --nats</c>.
/// </summary>
public sealed record CandidatePointer
{
    /// <summary>Tried on every node.</summary>
    public const string Running = "running";

    /// <summary>Made the active bundle everywhere.</summary>
    public const string Promoted = "promoted";

    /// <summary>Withdrawn everywhere.</summary>
    public const string RolledBack = "rolled_back";

    /// <summary>The candidate bundle's version (newer than the bundle pointer's).</summary>
    public ulong Version { get; init; }

    /// <summary>Object name in <see cref="FleetNames.BundleBucket"/>.</summary>
    public string Object { get; init; } = string.Empty;

    /// <summary>SHA-256 of the bundle bytes, lowercase hex.</summary>
    public string Sha256 { get; init; } = string.Empty;

    /// <summary>Size of the bundle in bytes.</summary>
    public long Size { get; init; }

    /// <summary>Share of members in the candidate arm, in [0, 1].</summary>
    public double Fraction { get; init; }

    /// <summary>The active version it is tried against.</summary>
    public ulong ActiveVersion { get; init; }

    /// <summary><see cref="Running"/>, <see cref="Promoted"/> or <see cref="RolledBack"/>.</summary>
    public string State { get; init; } = Running;

    /// <summary>Why it was started or decided (the test's interval, or an operator's words).</summary>
    public string Reason { get; init; } = string.Empty;

    /// <summary>
    /// Who wrote this value: <c>operator</c>, <c>auto</c> (the control plane's sequential test) or <c>gate</c> (a
    /// candidate started by <c>edgesel train --gate --nats</c> after it passed the offline gate).
    /// </summary>
    public string By { get; init; } = "operator";

    /// <summary>When the trial started (unix ms): the fleet's counts take impressions from then on.</summary>
    public long StartedAtMs { get; init; }

    /// <summary>When this value was written (unix ms).</summary>
    public long PointedAtMs { get; init; }

    /// <summary>Impressions per arm at the decision (control, candidate), when decided by the test.</summary>
    public long ControlImpressions { get; init; }

    /// <summary>Candidate-arm impressions at the decision.</summary>
    public long CandidateImpressions { get; init; }

    /// <summary>The bundle pointer a node downloads the candidate through (same object, digest and size checks).</summary>
    public BundlePointer AsBundlePointer() => new() { Version = Version, Object = Object, Sha256 = Sha256, Size = Size, PointedAtMs = PointedAtMs };
}

/// <summary>A node's heartbeat in <see cref="FleetNames.NodeBucket"/> (what <c>edgesel fleet status</c> shows).</summary>
public sealed record NodeStatus
{
    /// <summary>The node id (top 12 bits of its event ids); must be unique in a fleet.</summary>
    public int NodeId { get; init; }

    /// <summary>This process (host, pid and a random part): two live instances with one node id are a misconfiguration.</summary>
    public string Instance { get; init; } = string.Empty;

    /// <summary>The node's admin address as configured (for people).</summary>
    public string Admin { get; init; } = string.Empty;

    /// <summary>When this instance started (unix ms).</summary>
    public long StartedAtMs { get; init; }

    /// <summary>When this heartbeat was written (unix ms).</summary>
    public long HeartbeatAtMs { get; init; }

    /// <summary>How often the node writes one (ms): three missed ones mean the instance is gone.</summary>
    public long HeartbeatIntervalMs { get; init; }

    /// <summary>Whether /readyz answers 200.</summary>
    public bool Ready { get; init; }

    /// <summary>Version of the bundle the node serves.</summary>
    public ulong AppliedVersion { get; init; }

    /// <summary>Version of the last pointer the node saw.</summary>
    public ulong PointerVersion { get; init; }

    /// <summary>Why the node refused the pointer's bundle, if it did (it keeps serving <see cref="AppliedVersion"/>).</summary>
    public string? BundleError { get; init; }

    /// <summary>Last profile-stream sequence applied to the node's profile store.</summary>
    public ulong ProfilePosition { get; init; }

    /// <summary>Bytes of committed impression-log entries not yet acknowledged by JetStream.</summary>
    public long ImpressionLagBytes { get; init; }

    /// <summary>Bytes of committed reward-log entries not yet acknowledged by JetStream.</summary>
    public long RewardLagBytes { get; init; }

    /// <summary>The last shipping error, if the shipper is failing now (NATS unreachable, stream missing).</summary>
    public string? ShippingError { get; init; }
}

/// <summary>Source-generated JSON for the fleet's KV values (native AOT: no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BundlePointer))]
[JsonSerializable(typeof(NodeStatus))]
[JsonSerializable(typeof(CandidatePointer))]
public sealed partial class FleetJsonContext : JsonSerializerContext
{
    /// <summary>Parses a pointer; a clear <see cref="FleetException"/> when the value is not one.</summary>
    public static BundlePointer ParsePointer(ReadOnlySpan<byte> json)
    {
        try
        {
            var pointer = JsonSerializer.Deserialize(json, Default.BundlePointer);
            if (pointer is null || pointer.Version == 0 || string.IsNullOrEmpty(pointer.Object) || pointer.Sha256.Length != 64)
            {
                throw new FleetException($"{FleetNames.PointerBucket}/{FleetNames.BundlePointerKey} is not a bundle pointer (version, object, sha256)");
            }

            return pointer;
        }
        catch (JsonException e)
        {
            throw new FleetException($"{FleetNames.PointerBucket}/{FleetNames.BundlePointerKey} is not valid JSON: {e.Message}", e);
        }
    }
}

/// <summary>Parsing of <see cref="CandidatePointer"/> values.</summary>
public static class CandidatePointers
{
    /// <summary>Parses a candidate pointer; a clear <see cref="FleetException"/> when the value is not one.</summary>
    public static CandidatePointer Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var pointer = JsonSerializer.Deserialize(json, FleetJsonContext.Default.CandidatePointer);
            if (pointer is null || pointer.Version == 0 || string.IsNullOrEmpty(pointer.Object) || pointer.Sha256.Length != 64
                || !double.IsFinite(pointer.Fraction) || pointer.Fraction is < 0 or > 1
                || pointer.State is not (CandidatePointer.Running or CandidatePointer.Promoted or CandidatePointer.RolledBack))
            {
                throw new FleetException($"{FleetNames.PointerBucket}/{FleetNames.CandidatePointerKey} is not a candidate pointer (version, object, sha256, fraction in [0, 1], state)");
            }

            return pointer;
        }
        catch (JsonException e)
        {
            throw new FleetException($"{FleetNames.PointerBucket}/{FleetNames.CandidatePointerKey} is not valid JSON: {e.Message}", e);
        }
    }
}

/// <summary>A fleet operation failed for a reason a person can act on (unreachable NATS, missing stream, bad data).</summary>
public sealed class FleetException : Exception
{
    /// <summary>Creates the exception with its message.</summary>
    public FleetException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its message and cause.</summary>
    public FleetException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
