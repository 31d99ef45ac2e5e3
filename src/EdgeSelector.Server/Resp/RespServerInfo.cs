using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Hosting;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Rollout;

namespace EdgeSelector.Server.Resp;

/// <summary>
/// What RESP <c>INFO</c> reports (docs/resp.md, "INFO"): the sections <c>server</c>, <c>clients</c>, <c>stats</c>,
/// <c>replication</c> and <c>keyspace</c> (the model summary), in Redis's text layout (<c># Section</c> then
/// <c>field:value</c> lines, CRLF, a blank line between sections) so that client libraries parse it as they parse
/// Redis's. Read from the same counters /metrics reads; built per call (a few hundred bytes), off the serving path.
/// </summary>
internal sealed class RespServerInfo(
    ServerMetrics metrics,
    NodeStores stores,
    RolloutService rollout,
    ConnectionLimit resp,
    ConnectionLimit binary,
    int respPort,
    int nodeId,
    double idleTimeoutSeconds)
{
    /// <summary>The sections <c>INFO</c> without arguments (or <c>default</c>) returns, in order.</summary>
    public static readonly string[] DefaultSections = ["server", "clients", "stats", "replication", "keyspace"];

    /// <summary>
    /// The Redis version this front door reports (<c>redis_version</c>): clients pick features by it. 7.0 is the
    /// oldest that knows every connect command answered here (CLIENT SETINFO aside, which clients send regardless).
    /// </summary>
    public const string RedisVersion = "7.0.0";

    private readonly long _started = Stopwatch.GetTimestamp();

    /// <summary>A random id for this process's life, as Redis's <c>run_id</c> (40 hex digits): a change means a restart.</summary>
    public string RunId { get; } = RandomNumberGenerator.GetHexString(40, lowercase: true);

    /// <summary>The effective RESP connection budget (<c>maxclients</c>).</summary>
    public int MaxClients => resp.Max;

    /// <summary>The idle timeout in whole seconds (<c>timeout</c>, CONFIG GET).</summary>
    public long IdleTimeoutSeconds => (long)idleTimeoutSeconds;

    /// <summary>
    /// The INFO text of the sections asked for: none, <c>default</c> → <see cref="DefaultSections"/>; <c>all</c> or
    /// <c>everything</c> → every section; any other name → that section (unknown names add nothing, as in Redis).
    /// </summary>
    public string Render(IReadOnlyList<string> asked)
    {
        var sections = new List<string>();
        foreach (var name in asked.Count == 0 ? ["default"] : asked)
        {
            var lower = name.ToLowerInvariant();
            IEnumerable<string> add = lower is "default" or "all" or "everything" ? DefaultSections : [lower];
            sections.AddRange(add.Where(s => !sections.Contains(s)));
        }

        var sb = new StringBuilder(1024);
        foreach (var section in sections)
        {
            var before = sb.Length;
            if (sb.Length > 0)
            {
                sb.Append("\r\n");
            }

            if (!Section(sb, section))
            {
                sb.Length = before;
            }
        }

        return sb.ToString();
    }

    private bool Section(StringBuilder sb, string section)
    {
        switch (section)
        {
            case "server":
                var uptime = (long)Stopwatch.GetElapsedTime(_started).TotalSeconds;
                Header(sb, "Server");
                Field(sb, "redis_version", RedisVersion);
                Field(sb, "redis_mode", "standalone");
                Field(sb, "edgeselector_version", BuildInfo.Version);
                Field(sb, "edgeselector_commit", BuildInfo.Commit);
                Field(sb, "runtime", BuildInfo.Runtime);
                Field(sb, "os", $"{RuntimeInformation.OSDescription} {RuntimeInformation.OSArchitecture}".ToLowerInvariant().Replace("\n", " ", StringComparison.Ordinal));
                Field(sb, "arch_bits", Environment.Is64BitProcess ? 64 : 32);
                Field(sb, "process_id", Environment.ProcessId);
                Field(sb, "run_id", RunId);
                Field(sb, "node_id", nodeId);
                Field(sb, "tcp_port", respPort);
                Field(sb, "server_time_usec", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000);
                Field(sb, "uptime_in_seconds", uptime);
                Field(sb, "uptime_in_days", uptime / 86400);
                return true;
            case "clients":
                Header(sb, "Clients");
                Field(sb, "connected_clients", resp.Open);
                Field(sb, "maxclients", resp.Max);
                Field(sb, "blocked_clients", 0);
                Field(sb, "binary_connected_clients", binary.Open);
                return true;
            case "stats":
                var snapshot = metrics.Snapshot();
                Header(sb, "Stats");
                Field(sb, "total_connections_received", resp.Accepted);
                Field(sb, "rejected_connections", resp.Rejected);
                Field(sb, "total_commands_processed", snapshot.Ops.Sum(o => o.Requests));
                Field(sb, "total_error_replies", snapshot.ProtocolErrors);
                Field(sb, "selections", snapshot.Selections);
                Field(sb, "model_decisions", snapshot.DecisionsWithProfile + snapshot.DecisionsWithoutProfile);
                Field(sb, "fallbacks", snapshot.Fallbacks.Sum());
                Field(sb, "rewards_accepted", metrics.Rewards(RewardStatus.Accepted));
                Field(sb, "impressions_logged", snapshot.ImpressionsLogged);
                Field(sb, "impressions_dropped", snapshot.ImpressionsDropped);
                return true;
            case "replication":
                Header(sb, "Replication");
                Field(sb, "role", "master");
                Field(sb, "connected_slaves", 0);
                return true;
            case "keyspace":
                var models = stores.Models;
                var candidate = rollout.Current;
                Header(sb, "Keyspace");
                sb.Append(CultureInfo.InvariantCulture, $"models:titles={models.TitleCount},bundle={models.Version},previous_bundle={models.PreviousVersion}");
                sb.Append(CultureInfo.InvariantCulture, $",candidate_bundle={candidate?.Version ?? 0},candidate_fraction={candidate?.Split.Fraction ?? 0}\r\n");
                Field(sb, "profiles_log_bytes", stores.Profiles.TailAddress - stores.Profiles.HeadAddress);
                return true;
            default:
                return false;
        }
    }

    private static void Header(StringBuilder sb, string title) => sb.Append("# ").Append(title).Append("\r\n");

    private static void Field(StringBuilder sb, string name, string value) => sb.Append(name).Append(':').Append(value).Append("\r\n");

    private static void Field(StringBuilder sb, string name, long value) =>
        sb.Append(name).Append(':').Append(value.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
}
