using System.Security.Cryptography;
using System.Text.Json;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using NATS.Client.ObjectStore;

namespace EdgeSelector.Fleet.Bundles;

/// <summary>
/// Model distribution (docs/fleet.md, "Bundles"): a signed bundle is uploaded once to the Object Store under an
/// immutable versioned name, then the KV pointer <see cref="FleetNames.BundlePointerKey"/> is flipped to it. Nodes
/// watch the pointer, download, check the digest and apply; a rollback flips the pointer back.
/// </summary>
public sealed class BundleChannel
{
    private readonly FleetConnection _connection;

    /// <summary>Creates a channel over <paramref name="connection"/>.</summary>
    public BundleChannel(FleetConnection connection) => _connection = connection;

    /// <summary>
    /// Uploads <paramref name="bundle"/> as version <paramref name="version"/> (unless that object already holds exactly these
    /// bytes) and points the fleet at it. Refuses to overwrite a version's object with different bytes: versions are immutable.
    /// </summary>
    public async Task<BundlePointer> PublishAsync(ReadOnlyMemory<byte> bundle, ulong version, CancellationToken cancellationToken = default)
    {
        var pointer = await UploadAsync(bundle, version, cancellationToken).ConfigureAwait(false);
        await PointAsync(pointer, cancellationToken).ConfigureAwait(false);
        return pointer;
    }

    /// <summary>
    /// Uploads <paramref name="bundle"/> as version <paramref name="version"/> (unless that object already holds exactly
    /// these bytes) without pointing the fleet at it; the pointer it would take. Refuses different bytes for a stored version.
    /// </summary>
    public async Task<BundlePointer> UploadAsync(ReadOnlyMemory<byte> bundle, ulong version, CancellationToken cancellationToken = default)
    {
        var store = await _connection.GetBundleStoreAsync(cancellationToken).ConfigureAwait(false);
        var name = FleetNames.BundleObject(version);
        var sha = Sha256Hex(bundle.Span);
        var existing = await TryGetInfoAsync(store, name, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            var stored = await store.GetBytesAsync(name, cancellationToken).ConfigureAwait(false);
            if (Sha256Hex(stored) != sha)
            {
                throw new FleetException($"bundle version {version} is already stored as {name} with different bytes; versions are immutable (train a new version)");
            }
        }
        else
        {
            await store.PutAsync(name, bundle.ToArray(), cancellationToken).ConfigureAwait(false);
        }

        return new BundlePointer
        {
            Version = version,
            Object = name,
            Sha256 = sha,
            Size = bundle.Length,
            PointedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
    }

    /// <summary>
    /// Points the fleet at an already stored version (a rollback, or a roll-forward again); a <see cref="FleetException"/>
    /// when that version was never published.
    /// </summary>
    public async Task<BundlePointer> RepointAsync(ulong version, CancellationToken cancellationToken = default)
    {
        var store = await _connection.GetBundleStoreAsync(cancellationToken).ConfigureAwait(false);
        var name = FleetNames.BundleObject(version);
        if (await TryGetInfoAsync(store, name, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new FleetException($"bundle version {version} was never published to {FleetNames.BundleBucket} (no object {name})");
        }

        var bytes = await store.GetBytesAsync(name, cancellationToken).ConfigureAwait(false);
        var pointer = new BundlePointer
        {
            Version = version,
            Object = name,
            Sha256 = Sha256Hex(bytes),
            Size = bytes.Length,
            PointedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        await PointAsync(pointer, cancellationToken).ConfigureAwait(false);
        return pointer;
    }

    /// <summary>The current pointer, or null when nothing was ever pushed.</summary>
    public async Task<BundlePointer?> GetPointerAsync(CancellationToken cancellationToken = default)
    {
        var kv = await _connection.GetBucketAsync(FleetNames.PointerBucket, cancellationToken).ConfigureAwait(false);
        var entry = await _connection.RetryAsync(
            $"key {FleetNames.BundlePointerKey} of {FleetNames.PointerBucket}",
            token => kv.TryGetEntryAsync<byte[]>(FleetNames.BundlePointerKey, cancellationToken: token).AsTask(),
            cancellationToken).ConfigureAwait(false);
        return entry.Success && entry.Value.Value is { Length: > 0 } value ? FleetJsonContext.ParsePointer(value) : null;
    }

    /// <summary>The versions the pointer held before, newest first (what a rollback can go back to).</summary>
    public async Task<List<BundlePointer>> HistoryAsync(CancellationToken cancellationToken = default)
    {
        var kv = await _connection.GetBucketAsync(FleetNames.PointerBucket, cancellationToken).ConfigureAwait(false);
        // Each try reads the whole history again into a list of its own: a retried read neither repeats nor loses a value.
        return await _connection.RetryAsync($"history of {FleetNames.BundlePointerKey} in {FleetNames.PointerBucket}", async token =>
        {
            var history = new List<BundlePointer>();
            try
            {
                await foreach (var entry in kv.HistoryAsync<byte[]>(FleetNames.BundlePointerKey, cancellationToken: token).ConfigureAwait(false))
                {
                    if (entry.Value is { Length: > 0 } value)
                    {
                        history.Add(FleetJsonContext.ParsePointer(value));
                    }
                }
            }
            catch (NatsKVKeyNotFoundException)
            {
                // Nothing pushed yet.
            }

            history.Reverse();
            return history;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Every value of the pointer, starting with the current one, or <c>null</c> first when nothing was pushed yet (so a
    /// node that boots before the first push knows it is caught up). A value may be repeated; ends with
    /// <paramref name="cancellationToken"/>.
    /// </summary>
    public IAsyncEnumerable<BundlePointer?> WatchAsync(CancellationToken cancellationToken = default) =>
        PointerWatch.WatchKeyAsync(_connection, FleetNames.BundlePointerKey, v => FleetJsonContext.ParsePointer(v), cancellationToken);

    /// <summary>
    /// Downloads the pointer's object and checks its size and SHA-256; a <see cref="FleetException"/> saying which
    /// check failed (the signature and the models are the applier's to check).
    /// </summary>
    public async Task<byte[]> DownloadAsync(BundlePointer pointer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pointer);
        var store = await _connection.GetBundleStoreAsync(cancellationToken).ConfigureAwait(false);
        byte[] bytes;
        try
        {
            bytes = await store.GetBytesAsync(pointer.Object, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsObjNotFoundException e)
        {
            throw new FleetException($"bundle {pointer.Version}: object {pointer.Object} is not in {FleetNames.BundleBucket}", e);
        }
        catch (NatsObjException e)
        {
            throw new FleetException($"bundle {pointer.Version}: download of {pointer.Object} failed: {e.Message}", e);
        }

        var sha = Sha256Hex(bytes);
        if (bytes.Length != pointer.Size || !string.Equals(sha, pointer.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new FleetException($"bundle {pointer.Version}: digest mismatch (pointer sha256 {pointer.Sha256}, {pointer.Size} bytes; object sha256 {sha}, {bytes.Length} bytes)");
        }

        return bytes;
    }

    /// <summary>SHA-256 of <paramref name="bytes"/> as lowercase hex.</summary>
    public static string Sha256Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private async Task PointAsync(BundlePointer pointer, CancellationToken cancellationToken)
    {
        var kv = await _connection.GetBucketAsync(FleetNames.PointerBucket, cancellationToken).ConfigureAwait(false);
        await kv.PutAsync(FleetNames.BundlePointerKey, JsonSerializer.SerializeToUtf8Bytes(pointer, FleetJsonContext.Default.BundlePointer), cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private Task<NATS.Client.ObjectStore.Models.ObjectMetadata?> TryGetInfoAsync(INatsObjStore store, string name, CancellationToken cancellationToken) =>
        _connection.RetryAsync<NATS.Client.ObjectStore.Models.ObjectMetadata?>($"object {name} of {FleetNames.BundleBucket}", async token =>
        {
            try
            {
                return await store.GetInfoAsync(name, cancellationToken: token).ConfigureAwait(false);
            }
            catch (NatsObjNotFoundException)
            {
                return null;
            }
        }, cancellationToken);
}
