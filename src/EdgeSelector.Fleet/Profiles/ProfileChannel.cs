using NATS.Client.JetStream;

namespace EdgeSelector.Fleet.Profiles;

/// <summary>
/// Publishes member-profile batches to <see cref="FleetNames.ProfileStream"/> (<c>edgesel profiles import --nats</c>).
/// A batch is the body of <c>PUT /v1/profiles</c> (docs/profiles.md): every node applies it the same way.
/// </summary>
public sealed class ProfileChannel
{
    private readonly FleetConnection _connection;

    /// <summary>Creates a channel over <paramref name="connection"/>.</summary>
    public ProfileChannel(FleetConnection connection) => _connection = connection;

    /// <summary>The stream's last sequence (0 when empty); a <see cref="FleetException"/> when the stream is missing.</summary>
    public async Task<ulong> LastSequenceAsync(CancellationToken cancellationToken = default)
    {
        var stream = await _connection.GetStreamAsync(FleetNames.ProfileStream, cancellationToken).ConfigureAwait(false);
        return stream.Info.State.LastSeq;
    }

    /// <summary>
    /// Publishes one batch under <paramref name="messageId"/> (retried with the same id, so a batch is stored once) and
    /// returns its stream sequence.
    /// </summary>
    public async Task<ulong> PublishAsync(ReadOnlyMemory<byte> batchJson, string messageId, CancellationToken cancellationToken = default)
    {
        var opts = new NatsJSPubOpts { MsgId = messageId, RetryAttempts = 10, RetryWaitBetweenAttempts = TimeSpan.FromMilliseconds(500) };
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var ack = await _connection.JetStream.PublishAsync(FleetNames.ProfileSubject, batchJson, opts: opts, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!ack.Duplicate || ack.Error is not null)
                {
                    ack.EnsureSuccess(); // a duplicate is the same batch stored before (a retried publish): done
                }

                return ack.Seq;
            }
            catch (Exception e) when (attempt < 10 && e is NATS.Client.Core.NatsException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                // A leader election or a reconnect: the same message id again is stored at most once.
                await Task.Delay(TimeSpan.FromMilliseconds(250 * attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Removes every batch below <paramref name="firstKept"/> (after a full import that supersedes them), so a new node
    /// replays only the current state.
    /// </summary>
    public async Task PurgeBeforeAsync(ulong firstKept, CancellationToken cancellationToken = default)
    {
        var stream = await _connection.GetStreamAsync(FleetNames.ProfileStream, cancellationToken).ConfigureAwait(false);
        await stream.PurgeAsync(new NATS.Client.JetStream.Models.StreamPurgeRequest { Seq = firstKept }, cancellationToken).ConfigureAwait(false);
    }
}
