using System.Globalization;
using EdgeSelector.Storage.Impressions;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace EdgeSelector.Fleet.Events;

/// <summary>Tuning of an <see cref="EventShipper"/>.</summary>
public sealed record EventShipperOptions
{
    /// <summary>A message is sent once this many bytes are packed (or the log has nothing more after the linger).</summary>
    public int BatchBytes { get; init; } = 256 * 1024;

    /// <summary>Hard cap of one message (below NATS's max_payload, 1 MB by default).</summary>
    public int MaxMessageBytes { get; init; } = 900 * 1024;

    /// <summary>How long to wait for more entries before sending a batch that is not full.</summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Wait between attempts while JetStream does not acknowledge (doubles up to <see cref="MaxRetryDelay"/>).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Longest wait between attempts.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// Store-and-forward of one local log (impressions or rewards) to its JetStream stream (docs/fleet.md, "Event shipping").
/// Reads only committed entries through the log's named reader, packs them (<see cref="EventBatch"/>), publishes with
/// <c>Nats-Msg-Id = &lt;log id&gt;.&lt;first address&gt;.&lt;next address&gt;</c> and retries the same message until
/// JetStream acknowledges it; only then does the reader's persisted position move. So nothing committed locally is
/// lost while NATS is away, a retried message is dropped by JetStream's de-duplication, and a batch re-sent after a
/// crash (position not yet persisted) reaches the trainer twice at most, which de-duplicates by event id.
/// Runs on its own task, never on the serving path.
/// </summary>
public sealed class EventShipper : IDisposable
{
    /// <summary>The name of the log reader the shipper owns.</summary>
    public const string ReaderName = "fleet-shipper";

    private readonly FleetConnection _connection;
    private readonly ImpressionLog _log;
    private readonly EventKind _kind;
    private readonly string _subject;
    private readonly string _logId;
    private readonly EventShipperOptions _options;
    private readonly ILogger _logger;
    private readonly EventBatch _batch;
    private readonly ImpressionLogReader _reader;
    private byte[]? _carry;
    private int _carryLength;
    private long _carryAddress;
    private long _carryNext;
    private long _entries;
    private long _messages;
    private long _bytes;
    private long _duplicates;
    private long _failures;
    private long _rotatedAway;
    private long _lastSuccessMs;

    /// <summary>Creates the shipper of <paramref name="log"/>; <paramref name="logId"/> names this log in message ids (unique per data directory).</summary>
    public EventShipper(FleetConnection connection, ImpressionLog log, EventKind kind, int nodeId, string logId, EventShipperOptions options, ILogger logger)
    {
        _connection = connection;
        _log = log;
        _kind = kind;
        _subject = FleetNames.EventSubject(kind, nodeId);
        _logId = logId;
        _options = options;
        _logger = logger;
        _batch = new EventBatch(options.BatchBytes + (64 * 1024));
        _reader = log.OpenReader(ReaderName, holdsRetention: true); // rotation never drops what is not shipped (docs/fleet.md)
    }

    /// <summary>Which log this ships.</summary>
    public EventKind Kind => _kind;

    /// <summary>Committed bytes not yet acknowledged by JetStream (the shipping lag).</summary>
    public long LagBytes => Math.Max(0, _log.CommittedUntilAddress - Math.Max(_reader.AcknowledgedUntil, _log.BeginAddress));

    /// <summary>Entries acknowledged by JetStream since start.</summary>
    public long Entries => Interlocked.Read(ref _entries);

    /// <summary>Messages acknowledged by JetStream since start.</summary>
    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>Payload bytes acknowledged by JetStream since start.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Messages JetStream reported as duplicates (a retry of one it already had).</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Publish attempts that failed (and were retried).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Committed bytes the log rotated away before they were shipped (LogRetentionMB reached; docs/fleet.md).</summary>
    public long RotatedAwayBytes => Interlocked.Read(ref _rotatedAway);

    /// <summary>Unix ms of the last acknowledged message (0 = none yet).</summary>
    public long LastSuccessMs => Interlocked.Read(ref _lastSuccessMs);

    /// <summary>Why the last attempt failed, while the shipper is failing; null once a message is acknowledged again.</summary>
    public string? LastError { get; private set; }

    /// <summary>Ships until <paramref name="cancellationToken"/> fires.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            CheckRotation();
            Fill();
            if (_batch.Count == 0)
            {
                try
                {
                    if (!await _reader.WaitAsync(cancellationToken).ConfigureAwait(false))
                    {
                        return; // the log is closing
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            if (_batch.Length < _options.BatchBytes && _carry is null)
            {
                // Not full: give the log a moment to commit more, so quiet periods do not send one message per entry.
                try
                {
                    await Task.Delay(_options.Linger, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                Fill();
            }

            if (!await PublishAsync(cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            _reader.Acknowledge(_batch.NextAddress);
            _batch.Clear();
        }
    }

    /// <summary>Returns the batch buffer to the pool (the log owns the reader).</summary>
    public void Dispose() => _batch.Dispose();

    // Packs committed entries until the batch is full. An entry that would push the message past the hard cap is kept
    // aside and opens the next batch (the reader cannot go back).
    private void Fill()
    {
        if (_batch.Count == 0 && _carry is not null)
        {
            _batch.Add(_carry.AsSpan(0, _carryLength), _carryAddress, _carryNext);
            _carry = null;
        }

        var packer = new Packer(this);
        while (_carry is null && _batch.Length < _options.BatchBytes && _reader.TryReadNext(packer))
        {
        }
    }

    private void Take(ReadOnlySpan<byte> entry, long address, long nextAddress)
    {
        if (_batch.Count > 0 && _batch.Length + EventBatch.FrameHeaderSize + entry.Length > _options.MaxMessageBytes)
        {
            _carry = entry.ToArray();
            _carryLength = entry.Length;
            _carryAddress = address;
            _carryNext = nextAddress;
            return;
        }

        _batch.Add(entry, address, nextAddress);
    }

    private void CheckRotation()
    {
        var begin = _log.BeginAddress;
        var next = _reader.NextAddress;
        if (next < begin)
        {
            // The log dropped segments this shipper had not sent: the backlog outgrew LogRetentionMB (docs/fleet.md).
            Interlocked.Add(ref _rotatedAway, begin - next);
            _logger.LogError("fleet: {Kind} log rotated {Bytes} unshipped bytes away (NATS unreachable longer than LogRetentionMB holds); those events will not reach the trainer", _kind, begin - next);
        }
    }

    private async Task<bool> PublishAsync(CancellationToken cancellationToken)
    {
        var id = string.Create(CultureInfo.InvariantCulture, $"{_logId}.{_batch.FirstAddress}.{_batch.NextAddress}");
        var opts = new NatsJSPubOpts { MsgId = id };
        var delay = _options.RetryDelay;
        var failingSince = 0L;
        while (true)
        {
            try
            {
                var ack = await _connection.JetStream.PublishAsync(_subject, _batch.Payload, opts: opts, cancellationToken: cancellationToken).ConfigureAwait(false);
                // A duplicate is a batch JetStream already holds (a publish whose ack was lost, e.g. to a server's
                // kill -9, then retried under the same message id): shipped. EnsureSuccess would throw for it
                // ("Duplicate of N"), and the shipper would retry that batch for ever.
                if (ack.Duplicate && ack.Error is null)
                {
                    Interlocked.Increment(ref _duplicates);
                }
                else
                {
                    ack.EnsureSuccess();
                }

                Interlocked.Add(ref _entries, _batch.Count);
                Interlocked.Increment(ref _messages);
                Interlocked.Add(ref _bytes, _batch.Length);
                Interlocked.Exchange(ref _lastSuccessMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                if (LastError is not null)
                {
                    _logger.LogInformation("fleet: shipping {Kind} to {Stream} again", _kind, FleetNames.StreamOf(_kind));
                    LastError = null;
                }

                return true;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return false;
            }
            catch (Exception e) when (e is NatsException or TimeoutException or OperationCanceledException or InvalidOperationException)
            {
                Interlocked.Increment(ref _failures);
                var message = Describe(e);
                var now = Environment.TickCount64;
                if (LastError != message || now - failingSince > 60_000)
                {
                    _logger.LogWarning("fleet: cannot ship {Kind} to {Stream} ({Error}); keeping them in the local log and retrying", _kind, FleetNames.StreamOf(_kind), message);
                    failingSince = now;
                }

                LastError = message;
            }

            try
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxRetryDelay.Ticks));
        }
    }

    private static string Describe(Exception e) => e switch
    {
        NatsJSApiException api when api.Error.Code == 404 || api.Error.Code == 503 => $"stream missing or unavailable: {api.Error.Description} (run 'edgesel fleet init')",
        NatsNoRespondersException => "no JetStream stream answers on the subject (run 'edgesel fleet init')",
        _ => e.Message,
    };

    private readonly struct Packer(EventShipper shipper) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress) => shipper.Take(record, address, nextAddress);
    }
}
