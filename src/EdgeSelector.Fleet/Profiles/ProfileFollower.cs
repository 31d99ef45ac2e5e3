using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace EdgeSelector.Fleet.Profiles;

/// <summary>What a node does with one profile batch: null when applied, else why it was refused (it is then skipped).</summary>
public delegate string? ProfileBatchApplier(ReadOnlySpan<byte> batchJson, out int profiles);

/// <summary>
/// A node's side of the profile stream (docs/fleet.md, "Profiles"): replays <see cref="FleetNames.ProfileStream"/> from
/// the node's position with an ordered consumer, applies each batch to the profile store, and persists the position
/// only after a profile-store checkpoint made everything up to it durable (so a crash replays, never skips).
/// </summary>
public sealed class ProfileFollower
{
    private readonly FleetConnection _connection;
    private readonly string _positionPath;
    private readonly ProfileBatchApplier _apply;
    private readonly Func<Task> _checkpoint;
    private readonly TimeSpan _persistEvery;
    private readonly ILogger _logger;
    private long _position;
    private long _persisted;
    private long _applied;
    private long _rejected;
    private long _profiles;
    private volatile bool _caughtUp;

    /// <summary>
    /// Creates the follower; the position lives in <paramref name="positionPath"/>. <paramref name="checkpoint"/> makes
    /// everything applied so far durable (it throws if it cannot) and is awaited before the position is persisted.
    /// </summary>
    public ProfileFollower(FleetConnection connection, string positionPath, ProfileBatchApplier apply, Func<Task> checkpoint, TimeSpan persistEvery, ILogger logger)
    {
        _connection = connection;
        _positionPath = positionPath;
        _apply = apply;
        _checkpoint = checkpoint;
        _persistEvery = persistEvery;
        _logger = logger;
        _position = _persisted = (long)ReadPosition(positionPath);
    }

    /// <summary>Last stream sequence applied.</summary>
    public ulong Position => (ulong)Interlocked.Read(ref _position);

    /// <summary>True once the node has applied everything the stream held when the node (re)connected.</summary>
    public bool CaughtUp => _caughtUp;

    /// <summary>Batches applied since start.</summary>
    public long AppliedBatches => Interlocked.Read(ref _applied);

    /// <summary>Batches refused (did not parse, bad profile): logged and skipped.</summary>
    public long RejectedBatches => Interlocked.Read(ref _rejected);

    /// <summary>Profiles upserted since start.</summary>
    public long Profiles => Interlocked.Read(ref _profiles);

    /// <summary>Why the follower cannot follow now (NATS unreachable, stream missing), or null.</summary>
    public string? LastError { get; private set; }

    /// <summary>Follows the stream until <paramref name="cancellationToken"/> fires.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var lastPersist = Stopwatch.GetTimestamp();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var stream = await _connection.GetStreamAsync(FleetNames.ProfileStream, cancellationToken).ConfigureAwait(false);
                var target = stream.Info.State.LastSeq;
                var start = Stopwatch.GetTimestamp();
                var startPosition = Position;
                var startProfiles = Profiles;
                if (Position >= target)
                {
                    MarkCaughtUp(start, startPosition, startProfiles, target);
                }

                var opts = new NatsJSOrderedConsumerOpts
                {
                    DeliverPolicy = Position == 0 ? ConsumerConfigDeliverPolicy.All : ConsumerConfigDeliverPolicy.ByStartSequence,
                    OptStartSeq = Position == 0 ? 0 : Position + 1,
                };
                var consumer = await _connection.JetStream.CreateOrderedConsumerAsync(FleetNames.ProfileStream, opts, cancellationToken).ConfigureAwait(false);
                LastError = null;
                await foreach (var msg in consumer.ConsumeAsync<byte[]>(cancellationToken: cancellationToken).ConfigureAwait(false))
                {
                    var seq = msg.Metadata?.Sequence.Stream ?? 0;
                    if (seq <= Position)
                    {
                        continue;
                    }

                    var error = _apply(msg.Data ?? [], out var count);
                    if (error is null)
                    {
                        Interlocked.Increment(ref _applied);
                        Interlocked.Add(ref _profiles, count);
                    }
                    else
                    {
                        Interlocked.Increment(ref _rejected);
                        _logger.LogError("fleet: profile batch {Sequence} refused and skipped: {Error}", seq, error);
                    }

                    Interlocked.Exchange(ref _position, (long)seq);
                    if (!_caughtUp && seq >= target)
                    {
                        await PersistAsync().ConfigureAwait(false);
                        lastPersist = Stopwatch.GetTimestamp();
                        MarkCaughtUp(start, startPosition, startProfiles, target);
                    }
                    else if (Stopwatch.GetElapsedTime(lastPersist) >= _persistEvery)
                    {
                        await PersistAsync().ConfigureAwait(false);
                        lastPersist = Stopwatch.GetTimestamp();
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is NatsException or FleetException or TimeoutException or OperationCanceledException)
            {
                if (LastError != e.Message)
                {
                    _logger.LogWarning("fleet: cannot follow {Stream} ({Error}); retrying", FleetNames.ProfileStream, e.Message);
                }

                LastError = e.Message;
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

        if (Position != (ulong)Interlocked.Read(ref _persisted))
        {
            await PersistAsync().ConfigureAwait(false);
        }
    }

    private void MarkCaughtUp(long start, ulong startPosition, long startProfiles, ulong target)
    {
        if (_caughtUp)
        {
            return;
        }

        _caughtUp = true;
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var profiles = Profiles - startProfiles;
        _logger.LogInformation(
            "fleet: profiles caught up at sequence {Target}: replayed {Batches} batches, {Profiles} profiles in {Seconds:F2} s ({Rate:F0} profiles/s)",
            target, Position - startPosition, profiles, seconds, seconds > 0 ? profiles / seconds : 0);
    }

    private async Task PersistAsync()
    {
        var position = Position;
        try
        {
            await _checkpoint().ConfigureAwait(false); // the store first: the position may only name what is durable
            var temp = _positionPath + ".tmp";
            File.WriteAllText(temp, position.ToString(CultureInfo.InvariantCulture));
            File.Move(temp, _positionPath, overwrite: true);
            Interlocked.Exchange(ref _persisted, (long)position);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
        {
            _logger.LogError("fleet: cannot persist the profile position {Position}: {Error} (a restart replays from {Persisted})", position, e.Message, Interlocked.Read(ref _persisted));
        }
    }

    private static ulong ReadPosition(string path) =>
        File.Exists(path) && ulong.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : 0;
}
