using System.Globalization;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace EdgeSelector.Fleet.Events;

/// <summary>
/// The trainer's durable pull consumer on one event stream (docs/fleet.md, "Training"). Messages are fetched,
/// processed, made durable by the trainer (its state files), and only then acknowledged: a crash in between gets them
/// again (at-least-once), and the trainer drops what it already has by event id.
/// </summary>
/// <remarks>
/// Every read here (the stream lookup, the consumer's create-or-update, each pull; not the acks) is retried through
/// <see cref="FleetConnection.RetryAsync"/> while the cluster elects a
/// stream or consumer leader (a NATS server killed): each try bounded to 5 s (a pull to 10 s), for up to
/// <see cref="FleetConnection.RetryWait"/> (30 s for the tools), then a <see cref="FleetException"/> that says so.
/// </remarks>
public sealed class EventFetcher
{
    // How long a pull may wait for its messages: the server's 2 s expiry plus the 5 s the client adds before it ends a
    // pull itself; a try bound shorter than that would cut a slow but healthy pull (up to 256 messages of ~320 KB) and
    // leave its undelivered rest waiting out the ack wait.
    private static readonly TimeSpan PullExpires = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan PullTryTimeout = PullExpires + TimeSpan.FromSeconds(8);

    private readonly FleetConnection _connection;
    private readonly INatsJSConsumer _consumer;

    private EventFetcher(FleetConnection connection, EventKind kind, INatsJSConsumer consumer)
    {
        _connection = connection;
        Kind = kind;
        _consumer = consumer;
    }

    /// <summary>Which stream this reads.</summary>
    public EventKind Kind { get; }

    /// <summary>Messages the consumer has not been delivered yet.</summary>
    public ulong Pending => _consumer.Info.NumPending;

    /// <summary>Creates (or reopens) the durable consumer <paramref name="durable"/> on the stream of <paramref name="kind"/>.</summary>
    public static async Task<EventFetcher> OpenAsync(FleetConnection connection, EventKind kind, string durable, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var stream = FleetNames.StreamOf(kind);
        await connection.GetStreamAsync(stream, cancellationToken).ConfigureAwait(false); // a clear error when it is missing
        var config = new ConsumerConfig(durable)
        {
            DurableName = durable,
            AckPolicy = ConsumerConfigAckPolicy.Explicit,
            DeliverPolicy = ConsumerConfigDeliverPolicy.All,
            // A run holds its messages until its bundle and state are on disk; redelivery only after a crash.
            AckWait = TimeSpan.FromMinutes(30),
            MaxAckPending = 100_000,
        };
        // Create-or-update of a durable with the same config is idempotent: a try whose answer was lost is harmless.
        var consumer = await connection.RetryAsync(
            $"consumer {durable} on stream {stream}",
            token => connection.JetStream.CreateOrUpdateConsumerAsync(stream, config, token).AsTask(),
            cancellationToken).ConfigureAwait(false);
        return new EventFetcher(connection, kind, consumer);
    }

    /// <summary>Fetches what the stream holds now for this consumer, up to <paramref name="maxMessages"/> messages.</summary>
    /// <remarks>
    /// The position is the durable consumer's, kept by the server: each message the server delivers is counted there
    /// as delivered (waiting for its ack, <see cref="AckAllAsync"/>) and is not delivered again within the ack wait, so
    /// a pull asks only for what comes next. A retried pull therefore cannot read a message twice, and the messages an
    /// interrupted try already handed over stay in the result (each try asks only for the rest of
    /// <paramref name="maxMessages"/>). An empty answer is taken as "nothing waiting" only when the consumer's own count
    /// of undelivered messages agrees: a pull that finds no consumer leader (an election after a server died) also ends
    /// empty, without an error, and is tried again. What no try can recover is a message the server sent that never
    /// reached this process (the connection cut mid-delivery, or a try given up after its 10 s while the server was still
    /// sending): it stays delivered-unacknowledged and comes again after the ack wait (30 min) to a later run, whose
    /// de-duplication by event id takes it once. Tested by <c>EventFetcherRetryTests</c> (a consumer leader killed).
    /// </remarks>
    public async Task<List<INatsJSMsg<byte[]>>> FetchAvailableAsync(int maxMessages, CancellationToken cancellationToken = default)
    {
        var messages = new List<INatsJSMsg<byte[]>>();
        var what = $"the {Kind.ToString().ToLowerInvariant()} consumer {_consumer.Info.Name} on stream {_consumer.Info.StreamName}";
        while (messages.Count < maxMessages)
        {
            var before = messages.Count;
            await _connection.RetryAsync(what, token => PullAsync(messages, before, maxMessages, token), cancellationToken, PullTryTimeout).ConfigureAwait(false);
            if (messages.Count == before)
            {
                break;
            }
        }

        return messages;
    }

    // One pull into messages (kept across tries: see FetchAvailableAsync). Throws a transient error when the pull came
    // back empty while the consumer still has undelivered messages.
    private async Task<bool> PullAsync(List<INatsJSMsg<byte[]>> messages, int before, int maxMessages, CancellationToken cancellationToken)
    {
        var opts = new NatsJSFetchOpts { MaxMsgs = Math.Min(256, maxMessages - messages.Count), Expires = PullExpires };
        await foreach (var msg in _consumer.FetchNoWaitAsync<byte[]>(opts, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            messages.Add(msg);
        }

        if (messages.Count == before)
        {
            await _consumer.RefreshAsync(cancellationToken).ConfigureAwait(false);
            var info = _consumer.Info;
            // At MaxAckPending the server holds the rest back on purpose until acks come: "nothing more now", as before.
            if (info.NumPending > 0 && (info.Config.MaxAckPending <= 0 || info.NumAckPending < info.Config.MaxAckPending))
            {
                throw new FleetTransientException(string.Create(CultureInfo.InvariantCulture,
                    $"a pull returned nothing while {info.NumPending} message(s) wait undelivered (no consumer leader?)"));
            }
        }

        return true;
    }

    /// <summary>Acknowledges messages once what they carried is durable on the trainer's side.</summary>
    public static async Task AckAllAsync(IEnumerable<INatsJSMsg<byte[]>> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        foreach (var msg in messages)
        {
            await msg.AckAsync(new AckOpts { DoubleAck = true }, cancellationToken).ConfigureAwait(false);
        }
    }
}
