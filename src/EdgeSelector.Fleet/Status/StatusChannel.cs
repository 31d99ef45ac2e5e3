using System.Text.Json;
using NATS.Client.KeyValueStore;

namespace EdgeSelector.Fleet.Status;

/// <summary>Node heartbeats in <see cref="FleetNames.NodeBucket"/>: written by nodes, read by <c>edgesel fleet status</c>.</summary>
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
        var keys = new List<string>();
        try
        {
            await foreach (var key in kv.GetKeysAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
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
            var entry = await kv.TryGetEntryAsync<byte[]>(key, cancellationToken: cancellationToken).ConfigureAwait(false);
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

        statuses.Sort((a, b) => a.NodeId != b.NodeId ? a.NodeId.CompareTo(b.NodeId) : string.CompareOrdinal(a.Instance, b.Instance));
        return statuses;
    }
}
