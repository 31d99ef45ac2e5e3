using System.Runtime.CompilerServices;
using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace EdgeSelector.Fleet.Bundles;

/// <summary>
/// What the bundle pointer and the candidate pointer share: reading a key of <see cref="FleetNames.PointerBucket"/>
/// then watching it, and a node's loop that follows such a key through NATS outages.
/// </summary>
internal static class PointerWatch
{
    /// <summary>
    /// Every value of <paramref name="key"/>, starting with the current one (null first when there is none). Read
    /// first, then watch (which delivers the latest value again, then every update): nothing flipped in between is
    /// missed, and an empty bucket is reported at once instead of waiting for a watch that has nothing to say.
    /// </summary>
    public static async IAsyncEnumerable<T?> WatchKeyAsync<T>(FleetConnection connection, string key, Func<byte[], T> parse, [EnumeratorCancellation] CancellationToken cancellationToken)
        where T : class
    {
        var kv = await connection.GetBucketAsync(FleetNames.PointerBucket, cancellationToken).ConfigureAwait(false);
        var entry = await kv.TryGetEntryAsync<byte[]>(key, cancellationToken: cancellationToken).ConfigureAwait(false);
        yield return entry.Success && entry.Value.Value is { Length: > 0 } current ? parse(current) : null;

        await foreach (var update in kv.WatchAsync<byte[]>(key, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (update.Operation == NatsKVOperation.Put && update.Value is { Length: > 0 } value)
            {
                yield return parse(value);
            }
        }
    }

    /// <summary>
    /// Hands every value of <paramref name="watch"/> to <paramref name="handle"/> until <paramref name="cancellationToken"/>
    /// fires; when NATS fails (or a value cannot be read) tells <paramref name="failed"/> and watches again a second later.
    /// </summary>
    public static async Task FollowAsync<T>(
        Func<CancellationToken, IAsyncEnumerable<T?>> watch,
        Func<T?, CancellationToken, Task> handle,
        Action<Exception> failed,
        CancellationToken cancellationToken)
        where T : class
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var value in watch(cancellationToken).ConfigureAwait(false))
                {
                    await handle(value, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is NatsException or FleetException or TimeoutException or OperationCanceledException)
            {
                failed(e);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }
}
