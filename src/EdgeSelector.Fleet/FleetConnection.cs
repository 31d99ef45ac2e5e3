using System.Globalization;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;
using NATS.Client.ObjectStore;

namespace EdgeSelector.Fleet;

/// <summary>
/// One NATS connection with its JetStream, KV and Object Store contexts. Values travel as raw bytes or through
/// <see cref="FleetJsonContext"/> (the default serializer registry; no reflection, so native AOT is safe).
/// </summary>
public sealed class FleetConnection : IAsyncDisposable
{
    /// <summary>How long the tools' reads keep trying while the cluster elects a leader (<see cref="ConnectAsync(string, string, TimeSpan, CancellationToken)"/>).</summary>
    public static readonly TimeSpan ToolRetryWait = TimeSpan.FromSeconds(30);

    private FleetConnection(string url, NatsConnection nats, TimeSpan retryWait)
    {
        Url = url;
        RetryWait = retryWait;
        Nats = nats;
        JetStream = new NatsJSContext(nats);
        KeyValue = new NatsKVContext(JetStream);
        Objects = new NatsObjContext(JetStream);
    }

    /// <summary>The server list this connection uses (comma-separated <c>nats://host:port</c>).</summary>
    public string Url { get; }

    /// <summary>
    /// How long a read of the fleet's streams, buckets and consumers (<see cref="GetStreamAsync"/>, the trainer's
    /// <see cref="Events.EventFetcher"/>, the channels' reads) keeps trying while the cluster elects a leader; zero for
    /// a node's connection (<see cref="Create(string, string, TimeSpan)"/>: its followers and shipper retry on their own, for as long as it runs).
    /// </summary>
    public TimeSpan RetryWait { get; }

    /// <summary>The underlying connection (reconnects by itself after the first connect).</summary>
    public NatsConnection Nats { get; }

    /// <summary>JetStream.</summary>
    public INatsJSContext JetStream { get; }

    /// <summary>Key/value buckets.</summary>
    public INatsKVContext KeyValue { get; }

    /// <summary>Object store buckets.</summary>
    public INatsObjContext Objects { get; }

    /// <summary>
    /// Creates a connection without waiting for it: the first operation connects, and after a failed first connect the
    /// client keeps retrying in the background (what a node wants: it serves whether or not NATS is there).
    /// </summary>
    public static FleetConnection Create(string url, string name, TimeSpan requestTimeout) => Create(url, name, requestTimeout, FleetSecurity.None);

    /// <summary>
    /// <see cref="Create(string, string, TimeSpan)"/> authenticating and encrypting as <paramref name="security"/> says
    /// (a <see cref="FleetException"/> naming the setting when a file it names is missing or empty).
    /// </summary>
    public static FleetConnection Create(string url, string name, TimeSpan requestTimeout, FleetSecurity security)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        ArgumentNullException.ThrowIfNull(security);
        var opts = NatsOpts.Default with
        {
            Url = url,
            Name = name,
            RetryOnInitialConnect = true,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            RequestTimeout = requestTimeout,
            CommandTimeout = requestTimeout,
            MaxReconnectRetry = -1,
            ReconnectWaitMin = TimeSpan.FromMilliseconds(250),
            ReconnectWaitMax = TimeSpan.FromSeconds(2),
        };
        return new FleetConnection(url, new NatsConnection(security.ApplyTo(opts)), TimeSpan.Zero);
    }

    /// <summary>
    /// Connects now (tools: <c>edgesel … --nats URL</c>); a <see cref="FleetException"/> naming the URL when no server of
    /// the list answers within <paramref name="timeout"/>.
    /// </summary>
    public static Task<FleetConnection> ConnectAsync(string url, string name, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        ConnectAsync(url, name, timeout, ToolRetryWait, cancellationToken);

    /// <summary>
    /// <see cref="ConnectAsync(string, string, TimeSpan, CancellationToken)"/> with reads that keep trying a transient
    /// answer for <paramref name="retryWait"/> (<see cref="RetryWait"/>).
    /// </summary>
    public static Task<FleetConnection> ConnectAsync(string url, string name, TimeSpan timeout, TimeSpan retryWait, CancellationToken cancellationToken = default) =>
        ConnectAsync(url, name, timeout, retryWait, FleetSecurity.None, cancellationToken);

    /// <summary>
    /// <see cref="ConnectAsync(string, string, TimeSpan, TimeSpan, CancellationToken)"/> authenticating and encrypting as
    /// <paramref name="security"/> says. A server that refuses the credentials (or the TLS handshake) is a
    /// <see cref="FleetException"/> that says so.
    /// </summary>
    public static async Task<FleetConnection> ConnectAsync(string url, string name, TimeSpan timeout, TimeSpan retryWait, FleetSecurity security, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        ArgumentNullException.ThrowIfNull(security);
        var opts = NatsOpts.Default with
        {
            Url = url,
            Name = name,
            ConnectTimeout = timeout,
            RequestTimeout = TimeSpan.FromSeconds(30),
            CommandTimeout = TimeSpan.FromSeconds(30),
            MaxReconnectRetry = 30,
            ReconnectWaitMin = TimeSpan.FromMilliseconds(250),
            ReconnectWaitMax = TimeSpan.FromSeconds(2),
        };
        var nats = new NatsConnection(security.ApplyTo(opts));
        try
        {
            await nats.ConnectAsync().AsTask().WaitAsync(timeout + TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatsException or TimeoutException or System.Net.Sockets.SocketException)
        {
            await nats.DisposeAsync().ConfigureAwait(false);
            throw new FleetException($"cannot reach NATS at {url}: {Reasons(e)}", e);
        }

        return new FleetConnection(url, nats, retryWait);
    }

    // The client's outer message ("can not start to connect nats server") hides why: the server's refusal
    // ("Authorization Violation") or the TLS handshake's failure is an inner exception.
    private static string Reasons(Exception e)
    {
        var reasons = new List<string>();
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (!reasons.Contains(inner.Message, StringComparer.Ordinal))
            {
                reasons.Add(inner.Message);
            }
        }

        return string.Join(": ", reasons);
    }

    /// <summary>
    /// Creates (or updates) every stream and bucket of the fleet (docs/fleet.md). Idempotent: run it once per
    /// cluster, or again to change retention.
    /// </summary>
    /// <remarks>
    /// A cluster that is still forming (its servers just started, no JetStream meta leader yet, fewer servers up than
    /// <see cref="FleetTopology.Replicas"/>) answers "no suitable peers for placement", "JetStream system temporarily
    /// unavailable" or not at all: the whole sequence (each step is idempotent) is tried again every half second, each
    /// try bounded to 5 s, for up to <see cref="FleetTopology.PlacementWait"/>; then a <see cref="FleetException"/> says why.
    /// </remarks>
    public async Task InitTopologyAsync(FleetTopology topology, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topology);
        await FleetRetry.RunAsync(
            async token =>
            {
                await CreateTopologyAsync(topology, token).ConfigureAwait(false);
                return true;
            },
            topology.PlacementWait,
            e => new FleetException(string.Create(CultureInfo.InvariantCulture,
                $"cannot place {topology.Replicas} replica(s) at {Url} after waiting {topology.PlacementWait.TotalSeconds:0.#} s ({FleetRetry.Reason(e)}): fewer than {topology.Replicas} JetStream servers are up and clustered, or the cluster has no JetStream leader yet"), e),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs a read of the fleet's streams, buckets or consumers (<paramref name="what"/> names it in the error), tried
    /// again on a transient answer (<see cref="FleetRetry.IsTransient"/>: a leader election after a server died) with
    /// each try bounded to 5 s (or <paramref name="attemptTimeout"/>), for up to <see cref="RetryWait"/>; then a
    /// <see cref="FleetException"/> that names it and says what to check. Other errors are thrown as they are.
    /// <paramref name="read"/> must be safe to run again.
    /// </summary>
    internal Task<T> RetryAsync<T>(string what, Func<CancellationToken, Task<T>> read, CancellationToken cancellationToken, TimeSpan? attemptTimeout = null) =>
        FleetRetry.RunAsync(read, RetryWait, e => new FleetException(string.Create(CultureInfo.InvariantCulture,
            $"{what} at {Url}: no usable answer after trying for {RetryWait.TotalSeconds:0.#} s ({FleetRetry.Reason(e)}): the NATS cluster has no JetStream leader for it (a server down and fewer than a quorum of its replicas up?); check the servers (edgesel fleet status --nats {Url}) and run the command again"), e),
            cancellationToken,
            attemptTimeout);

    // Each call is idempotent (create-or-update), so a retry after a partial run finishes the topology.
    private async Task CreateTopologyAsync(FleetTopology topology, CancellationToken cancellationToken)
    {
        var replicas = topology.Replicas;
        foreach (var kind in new[] { EventKind.Impressions, EventKind.Rewards })
        {
            await JetStream.CreateOrUpdateStreamAsync(new StreamConfig(FleetNames.StreamOf(kind), [FleetNames.EventSubjects(kind)])
            {
                Storage = StreamConfigStorage.File,
                Retention = StreamConfigRetention.Limits,
                NumReplicas = replicas,
                MaxAge = topology.EventMaxAge,
                MaxBytes = topology.EventMaxBytes,
                DuplicateWindow = topology.DuplicateWindow,
                Discard = StreamConfigDiscard.Old,
            }, cancellationToken).ConfigureAwait(false);
        }

        await JetStream.CreateOrUpdateStreamAsync(new StreamConfig(FleetNames.ProfileStream, [FleetNames.ProfileSubject])
        {
            Storage = StreamConfigStorage.File,
            Retention = StreamConfigRetention.Limits,
            NumReplicas = replicas,
            DuplicateWindow = topology.DuplicateWindow,
            // Profiles are state, not events: nothing expires; a full re-import purges what it supersedes.
            Discard = StreamConfigDiscard.New,
        }, cancellationToken).ConfigureAwait(false);

        await KeyValue.CreateOrUpdateStoreAsync(new NatsKVConfig(FleetNames.PointerBucket)
        {
            History = 32, // rollback candidates: the pointers flipped before
            NumberOfReplicas = replicas,
            Storage = NatsKVStorageType.File,
        }, cancellationToken).ConfigureAwait(false);
        await KeyValue.CreateOrUpdateStoreAsync(new NatsKVConfig(FleetNames.NodeBucket)
        {
            History = 1,
            NumberOfReplicas = replicas,
            Storage = NatsKVStorageType.File,
            MaxAge = FleetNames.NodeStatusMaxAge,
        }, cancellationToken).ConfigureAwait(false);
        try
        {
            await Objects.GetObjectStoreAsync(FleetNames.BundleBucket, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            await Objects.CreateObjectStoreAsync(new NatsObjConfig(FleetNames.BundleBucket)
            {
                NumberOfReplicas = replicas,
                Storage = NatsObjStorageType.File,
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A stream of the fleet; a <see cref="FleetException"/> that says to run <c>edgesel fleet init</c> when it is missing.</summary>
    public async Task<INatsJSStream> GetStreamAsync(string name, CancellationToken cancellationToken = default)
    {
        try
        {
            return await RetryAsync($"stream {name}", token => JetStream.GetStreamAsync(name, cancellationToken: token).AsTask(), cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            throw Missing("stream", name, e);
        }
    }

    /// <summary>A KV bucket of the fleet; a <see cref="FleetException"/> when it is missing.</summary>
    public async Task<INatsKVStore> GetBucketAsync(string bucket, CancellationToken cancellationToken = default)
    {
        try
        {
            return await RetryAsync($"KV bucket {bucket}", token => KeyValue.GetStoreAsync(bucket, token).AsTask(), cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            throw Missing("KV bucket", bucket, e);
        }
    }

    /// <summary>The bundle object store; a <see cref="FleetException"/> when it is missing.</summary>
    public async Task<INatsObjStore> GetBundleStoreAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await RetryAsync($"object store {FleetNames.BundleBucket}", token => Objects.GetObjectStoreAsync(FleetNames.BundleBucket, token).AsTask(), cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            throw Missing("object store", FleetNames.BundleBucket, e);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Nats.DisposeAsync();

    private FleetException Missing(string what, string name, Exception inner) =>
        new($"{what} {name} does not exist in NATS at {Url}: create the fleet's streams and buckets with 'edgesel fleet init --nats {Url}'", inner);
}

/// <summary>Replication and retention of the fleet's streams (<c>edgesel fleet init</c>).</summary>
public sealed record FleetTopology
{
    /// <summary>Copies of every stream and bucket (1, 3 or 5; 3 tolerates the loss of one NATS server).</summary>
    public int Replicas { get; init; } = 3;

    /// <summary>How long impressions and rewards stay in their streams (the trainer must consume them within it).</summary>
    public TimeSpan EventMaxAge { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Size cap of each event stream in bytes (-1 = none; the oldest messages go first).</summary>
    public long EventMaxBytes { get; init; } = -1;

    /// <summary>How long JetStream remembers message ids to drop a re-sent batch.</summary>
    public TimeSpan DuplicateWindow { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long <see cref="FleetConnection.InitTopologyAsync"/> waits for a forming cluster to place the replicas
    /// (servers just started, JetStream leader not yet elected) before it gives up.
    /// </summary>
    public TimeSpan PlacementWait { get; init; } = TimeSpan.FromSeconds(30);
}
