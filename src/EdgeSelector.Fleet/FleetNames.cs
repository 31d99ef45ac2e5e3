namespace EdgeSelector.Fleet;

/// <summary>
/// The names of everything the fleet keeps in NATS JetStream (docs/fleet.md, "Subjects, streams and buckets"). One
/// place, so the nodes, the CLI and the docs cannot drift apart.
/// </summary>
public static class FleetNames
{
    /// <summary>Object Store bucket of signed model bundles, one immutable object per version.</summary>
    public const string BundleBucket = "es_bundles";

    /// <summary>KV bucket of fleet-wide pointers (the current bundle).</summary>
    public const string PointerBucket = "es_fleet";

    /// <summary>Key in <see cref="PointerBucket"/> of the bundle every node should serve.</summary>
    public const string BundlePointerKey = "bundle.current";

    /// <summary>
    /// Key in <see cref="PointerBucket"/> of the fleet's candidate bundle (<see cref="CandidatePointer"/>): the bundle tried
    /// on a sticky fraction of members next to <see cref="BundlePointerKey"/>'s, and the control plane's decision on it
    /// (docs/rollout.md, "Fleet"). Its history is the fleet's decision log.
    /// </summary>
    public const string CandidatePointerKey = "bundle.candidate";

    /// <summary>KV bucket of node heartbeats, key <c>node.&lt;nodeId&gt;.&lt;instance&gt;</c>; entries expire with <see cref="NodeStatusMaxAge"/>.</summary>
    public const string NodeBucket = "es_nodes";

    /// <summary>Stream of member-profile batches (subject <see cref="ProfileSubject"/>), replayed by every node.</summary>
    public const string ProfileStream = "ES_PROFILES";

    /// <summary>Subject of profile batches.</summary>
    public const string ProfileSubject = "es.profiles";

    /// <summary>Stream of packed impression entries, subject <c>es.impressions.&lt;nodeId&gt;</c>.</summary>
    public const string ImpressionStream = "ES_IMPRESSIONS";

    /// <summary>Stream of packed reward entries, subject <c>es.rewards.&lt;nodeId&gt;</c>.</summary>
    public const string RewardStream = "ES_REWARDS";

    /// <summary>Durable pull consumer of the trainer on each event stream.</summary>
    public const string TrainerConsumer = "trainer";

    /// <summary>How long a node's heartbeat lives in <see cref="NodeBucket"/> without being renewed.</summary>
    public static readonly TimeSpan NodeStatusMaxAge = TimeSpan.FromMinutes(2);

    /// <summary>The stream that holds events of <paramref name="kind"/>.</summary>
    public static string StreamOf(EventKind kind) => kind == EventKind.Impressions ? ImpressionStream : RewardStream;

    /// <summary>The subject a node publishes its events of <paramref name="kind"/> on.</summary>
    public static string EventSubject(EventKind kind, int nodeId) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{EventSubjectPrefix(kind)}.{nodeId}");

    /// <summary>The subjects of all nodes' events of <paramref name="kind"/> (what its stream captures).</summary>
    public static string EventSubjects(EventKind kind) => EventSubjectPrefix(kind) + ".*";

    private static string EventSubjectPrefix(EventKind kind) => kind == EventKind.Impressions ? "es.impressions" : "es.rewards";

    /// <summary>The object name of bundle <paramref name="version"/> (zero-padded so names sort by version).</summary>
    public static string BundleObject(ulong version) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"bundle-{version:D20}.esb");

    /// <summary>The heartbeat key of a node instance.</summary>
    public static string NodeKey(int nodeId, string instance) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"node.{nodeId}.{instance}");
}

/// <summary>The two kinds of event a node ships.</summary>
public enum EventKind
{
    /// <summary>Impression log entries.</summary>
    Impressions = 0,

    /// <summary>Reward log entries.</summary>
    Rewards = 1,
}
