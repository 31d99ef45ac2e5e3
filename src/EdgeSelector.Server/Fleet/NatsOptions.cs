using EdgeSelector.Fleet;

namespace EdgeSelector.Server.Fleet;

/// <summary>
/// The configuration section <c>EdgeSelector:Nats</c>: joins the node to a fleet through NATS JetStream (docs/fleet.md).
/// Off unless <see cref="Url"/> is set; a single node needs none of it.
/// </summary>
public sealed class NatsOptions
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "EdgeSelector:Nats";

    /// <summary>NATS servers, comma-separated (<c>nats://10.0.0.1:4222,nats://10.0.0.2:4222</c>); empty = no fleet.</summary>
    public string Url { get; set; } = string.Empty;

    /// <summary>
    /// Report ready only after the node has handled the current bundle pointer and replayed the profile stream as far
    /// as it was when the node connected (a node that boots late or was partitioned catches up first).
    /// </summary>
    public bool CatchUpBeforeReady { get; set; } = true;

    /// <summary>
    /// A node that has a bundle of its own (local checkpoint) but cannot catch up within this many seconds (NATS
    /// unreachable) reports ready anyway and serves what it has; 0 = wait for ever.
    /// </summary>
    public double CatchUpTimeoutSeconds { get; set; } = 120;

    /// <summary>Seconds between heartbeats in the <c>es_nodes</c> bucket.</summary>
    public double HeartbeatSeconds { get; set; } = 5;

    /// <summary>Target size of one packed event message in KB.</summary>
    public int ShipBatchKB { get; set; } = 256;

    /// <summary>How long a batch that is not full waits for more entries, in ms.</summary>
    public double ShipLingerMs { get; set; } = 20;

    /// <summary>Seconds between profile-store checkpoints that persist the profile-stream position while following.</summary>
    public double ProfilePersistSeconds { get; set; } = 30;

    /// <summary>A NATS credentials file (<c>.creds</c>: user JWT and NKey seed) to authenticate with (docs/fleet.md, "Security").</summary>
    public string CredsFile { get; set; } = string.Empty;

    /// <summary>A file holding the NATS authorization token to authenticate with.</summary>
    public string TokenFile { get; set; } = string.Empty;

    /// <summary>The NATS user to authenticate as (with <see cref="PasswordFile"/>).</summary>
    public string User { get; set; } = string.Empty;

    /// <summary>A file holding <see cref="User"/>'s password.</summary>
    public string PasswordFile { get; set; } = string.Empty;

    /// <summary>A PEM file of the CA certificate(s) to verify the NATS servers with; set, the connection must be TLS.</summary>
    public string TlsCaFile { get; set; } = string.Empty;

    /// <summary>A PEM client certificate for servers that verify clients (with <see cref="TlsKeyFile"/>).</summary>
    public string TlsCertFile { get; set; } = string.Empty;

    /// <summary>The PEM private key of <see cref="TlsCertFile"/>.</summary>
    public string TlsKeyFile { get; set; } = string.Empty;

    /// <summary>How the node's NATS connection authenticates and encrypts.</summary>
    public FleetSecurity Security() => new()
    {
        CredsFile = CredsFile,
        TokenFile = TokenFile,
        User = User,
        PasswordFile = PasswordFile,
        TlsCaFile = TlsCaFile,
        TlsCertFile = TlsCertFile,
        TlsKeyFile = TlsKeyFile,
    };

    /// <summary>Whether this node is part of a fleet.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Url);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad key.</summary>
    public NatsOptions Validate()
    {
        Check(CatchUpTimeoutSeconds >= 0, nameof(CatchUpTimeoutSeconds), "must be 0 (wait for ever) or positive");
        Check(HeartbeatSeconds > 0, nameof(HeartbeatSeconds), "must be positive");
        Check(ShipBatchKB is >= 1 and <= 768, nameof(ShipBatchKB), "must be in 1..768 (a message stays below NATS's 1 MB max_payload)");
        Check(ShipLingerMs >= 0, nameof(ShipLingerMs), "must not be negative");
        Check(ProfilePersistSeconds > 0, nameof(ProfilePersistSeconds), "must be positive");
        foreach (var url in Url.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Check(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "nats" or "tls" && uri.Port > 0, nameof(Url), $"has '{url}', not a nats://host:port address");
        }

        if (Security().Check() is { } problem)
        {
            Check(false, problem.Setting, problem.Problem);
        }

        return this;
    }

    private static void Check(bool ok, string key, string message)
    {
        if (!ok)
        {
            throw new ArgumentException($"{Section}:{key} {message}");
        }
    }
}
