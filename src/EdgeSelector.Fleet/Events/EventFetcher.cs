using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace EdgeSelector.Fleet.Events;

/// <summary>
/// The trainer's durable pull consumer on one event stream (docs/fleet.md, "Training"). Messages are fetched,
/// processed, made durable by the trainer (its state files), and only then acknowledged: a crash in between gets them
/// again (at-least-once), and the trainer drops what it already has by event id.
/// </summary>
public sealed class EventFetcher
{
    private readonly INatsJSConsumer _consumer;

    private EventFetcher(EventKind kind, INatsJSConsumer consumer)
    {
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
        var consumer = await connection.JetStream.CreateOrUpdateConsumerAsync(stream, new ConsumerConfig(durable)
        {
            DurableName = durable,
            AckPolicy = ConsumerConfigAckPolicy.Explicit,
            DeliverPolicy = ConsumerConfigDeliverPolicy.All,
            // A run holds its messages until its bundle and state are on disk; redelivery only after a crash.
            AckWait = TimeSpan.FromMinutes(30),
            MaxAckPending = 100_000,
        }, cancellationToken).ConfigureAwait(false);
        return new EventFetcher(kind, consumer);
    }

    /// <summary>Fetches what the stream holds now for this consumer, up to <paramref name="maxMessages"/> messages.</summary>
    public async Task<List<INatsJSMsg<byte[]>>> FetchAvailableAsync(int maxMessages, CancellationToken cancellationToken = default)
    {
        var messages = new List<INatsJSMsg<byte[]>>();
        while (messages.Count < maxMessages)
        {
            var before = messages.Count;
            var opts = new NatsJSFetchOpts { MaxMsgs = Math.Min(256, maxMessages - messages.Count), Expires = TimeSpan.FromSeconds(2) };
            await foreach (var msg in _consumer.FetchNoWaitAsync<byte[]>(opts, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                messages.Add(msg);
            }

            if (messages.Count == before)
            {
                break;
            }
        }

        return messages;
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
