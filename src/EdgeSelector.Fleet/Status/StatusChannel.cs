using System.Runtime.CompilerServices;
using System.Text.Json;
using NATS.Client.KeyValueStore;

namespace EdgeSelector.Fleet.Status;

/// <summary>
/// Node heartbeats in <see cref="FleetNames.NodeBucket"/>: written by nodes, read by <c>edgesel fleet status</c> and
/// watched by every node's dashboard view.
/// </summary>
public sealed class StatusChannel
{
    private readonly FleetConnection _connection;

    /// <summary>Creates a channel over <paramref name="connection"/>.</summary>
    public StatusChannel(FleetConnection connection) => _connection = connection;

    /// <summary>Writes one heartbeat.</summary>
    public async Task PutAsync(NodeStatus status, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(status);
        var kv = await _connection.GetBucketAsync(FleetNames.NodeBucket, cancellationToken).ConfigureAwait(false);
        await kv.PutAsync(FleetNames.NodeKey(status.NodeId, status.Instance), JsonSerializer.SerializeToUtf8Bytes(status, FleetJsonContext.Default.NodeStatus), cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every live heartbeat (entries expire after <see cref="FleetNames.NodeStatusMaxAge"/>), by node id.</summary>
    public async Task<List<NodeStatus>> ListAsync(CancellationToken cancellationToken = default)
    {
        var kv = await _connection.GetBucketAsync(FleetNames.NodeBucket, cancellationToken).ConfigureAwait(false);
        // Each try lists the keys and reads them again into lists of its own: a retried read neither repeats nor loses a node.
        var statuses = await _connection.RetryAsync($"heartbeats in {FleetNames.NodeBucket}", async token =>
        {
            var keys = new List<string>();
            try
            {
                await foreach (var key in kv.GetKeysAsync(cancellationToken: token).ConfigureAwait(false))
                {
                    keys.Add(key);
                }
            }
            catch (NatsKVKeyNotFoundException)
            {
                // Empty bucket.
            }

            var statuses = new List<NodeStatus>(keys.Count);
            foreach (var key in keys)
            {
                var entry = await kv.TryGetEntryAsync<byte[]>(key, cancellationToken: token).ConfigureAwait(false);
                if (!entry.Success || entry.Value.Value is not { Length: > 0 } value)
                {
                    continue;
                }

                try
                {
                    if (JsonSerializer.Deserialize(value, FleetJsonContext.Default.NodeStatus) is { } status)
                    {
                        statuses.Add(status);
                    }
                }
                catch (JsonException)
                {
                    // Not a heartbeat this version writes: skipped, not fatal for a status view.
                }
            }

            return statuses;
        }, cancellationToken).ConfigureAwait(false);
        statuses.Sort((a, b) => a.NodeId != b.NodeId ? a.NodeId.CompareTo(b.NodeId) : string.CompareOrdinal(a.Instance, b.Instance));
        return statuses;
    }

    /// <summary>
    /// Every heartbeat as it is written: the bucket's current values first, then each update, and <c>(key, null)</c>
    /// for a key deleted or purged; ends with <paramref name="cancellationToken"/>. A value this version cannot read is
    /// skipped. Entries that expire by age (<see cref="FleetNames.NodeStatusMaxAge"/>) are not announced: JetStream
    /// drops them without a marker, so a watcher ages them out by their <see cref="NodeStatus.HeartbeatAtMs"/> itself.
    /// </summary>
    public async IAsyncEnumerable<(string Key, NodeStatus? Status)> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var kv = await _connection.GetBucketAsync(FleetNames.NodeBucket, cancellationToken).ConfigureAwait(false);
        await foreach (var entry in kv.WatchAsync<byte[]>("node.>", cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (entry.Operation != NatsKVOperation.Put || entry.Value is not { Length: > 0 } value)
            {
                yield return (entry.Key, null);
                continue;
            }

            NodeStatus? status = null;
            try
            {
                status = JsonSerializer.Deserialize(value, FleetJsonContext.Default.NodeStatus);
            }
            catch (JsonException)
            {
                // Not a heartbeat this version writes: skipped, as ListAsync does.
            }

            if (status is not null)
            {
                yield return (entry.Key, status);
            }
        }
    }
}
