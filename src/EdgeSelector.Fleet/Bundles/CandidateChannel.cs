using System.Globalization;
using System.Text.Json;
using NATS.Client.KeyValueStore;

namespace EdgeSelector.Fleet.Bundles;

/// <summary>
/// The fleet's candidate slot (docs/rollout.md, "Fleet"): the signed candidate bundle is uploaded to the Object Store
/// like any bundle, and <see cref="FleetNames.CandidatePointerKey"/> names it with its fraction and state. The control
/// plane's decision is a new value of the same key: <c>promoted</c> (then the bundle pointer moves to the candidate,
/// so every node serves it as active) or <c>rolled_back</c> (every node withdraws it). Nodes watch the key
/// (<see cref="CandidateFollower"/>).
/// </summary>
public sealed class CandidateChannel
{
    private readonly FleetConnection _connection;
    private readonly BundleChannel _bundles;

    /// <summary>Creates a channel over <paramref name="connection"/>.</summary>
    public CandidateChannel(FleetConnection connection)
    {
        _connection = connection;
        _bundles = new BundleChannel(connection);
    }

    /// <summary>The bundle channel the candidate's objects and the active pointer go through.</summary>
    public BundleChannel Bundles => _bundles;

    /// <summary>The current candidate pointer, or null when none was ever published.</summary>
    public async Task<CandidatePointer?> GetAsync(CancellationToken cancellationToken = default)
    {
        var kv = await _connection.GetBucketAsync(FleetNames.PointerBucket, cancellationToken).ConfigureAwait(false);
        var entry = await _connection.RetryAsync(
            $"key {FleetNames.CandidatePointerKey} of {FleetNames.PointerBucket}",
            token => kv.TryGetEntryAsync<byte[]>(FleetNames.CandidatePointerKey, cancellationToken: token).AsTask(),
            cancellationToken).ConfigureAwait(false);
        return entry.Success && entry.Value.Value is { Length: > 0 } value ? CandidatePointers.Parse(value) : null;
    }

    /// <summary>
    /// Starts trying <paramref name="bundle"/> (version <paramref name="version"/>) on <paramref name="fraction"/> of
    /// members on every node. Refused with a <see cref="FleetException"/> naming the problem, nothing changed: a
    /// fraction outside [0, 1], no active bundle, a version not newer than the active one or than the candidate being
    /// tried. (The signature, the models and the feature schema are checked by the caller and by every node.)
    /// <paramref name="by"/> names who started it (<c>operator</c>: <c>edgesel rollout start</c>; <c>gate</c>:
    /// <c>edgesel train --gate --nats</c>).
    /// </summary>
    public async Task<CandidatePointer> StartAsync(ReadOnlyMemory<byte> bundle, ulong version, double fraction, string reason, string by, CancellationToken cancellationToken = default)
    {
        if (!double.IsFinite(fraction) || fraction is < 0 or > 1)
        {
            throw new FleetException(string.Create(CultureInfo.InvariantCulture, $"fraction {fraction} is outside [0, 1]"));
        }

        var active = await _bundles.GetPointerAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new FleetException("no active bundle in the fleet: push one with edgesel push --nats first (a candidate is tried against it)");
        if (version <= active.Version)
        {
            throw new FleetException($"candidate version {version} is not newer than the fleet's active version {active.Version}");
        }

        if (await GetAsync(cancellationToken).ConfigureAwait(false) is { State: CandidatePointer.Running } running && version <= running.Version)
        {
            throw new FleetException($"candidate version {version} is not newer than the candidate being tried ({running.Version})");
        }

        var uploaded = await _bundles.UploadAsync(bundle, version, cancellationToken).ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var pointer = new CandidatePointer
        {
            Version = version,
            Object = uploaded.Object,
            Sha256 = uploaded.Sha256,
            Size = uploaded.Size,
            Fraction = fraction,
            ActiveVersion = active.Version,
            State = CandidatePointer.Running,
            Reason = reason,
            By = by,
            StartedAtMs = now,
            PointedAtMs = now,
        };
        await PutAsync(pointer, cancellationToken).ConfigureAwait(false);
        return pointer;
    }

    /// <summary>
    /// Records the decision on the running candidate <paramref name="version"/> and makes every node converge:
    /// promoted → the candidate value says so first (each node promotes the bundle it tries), then the bundle pointer
    /// moves to it (a node that missed the trial, or starts later, serves it as active too); rolled back → every node
    /// withdraws it. A <see cref="FleetException"/> when that candidate is not running (already decided, replaced).
    /// </summary>
    public async Task<CandidatePointer> DecideAsync(ulong version, bool promote, string by, string reason, long controlImpressions = 0, long candidateImpressions = 0, CancellationToken cancellationToken = default)
    {
        var current = await GetAsync(cancellationToken).ConfigureAwait(false);
        if (current is not { State: CandidatePointer.Running } || current.Version != version)
        {
            throw new FleetException(current is null
                ? "no candidate is being tried in the fleet"
                : $"candidate {version} is not being tried in the fleet (the candidate pointer names {current.Version}, {current.State})");
        }

        var decided = current with
        {
            State = promote ? CandidatePointer.Promoted : CandidatePointer.RolledBack,
            Reason = reason,
            By = by,
            PointedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            ControlImpressions = controlImpressions,
            CandidateImpressions = candidateImpressions,
        };
        await PutAsync(decided, cancellationToken).ConfigureAwait(false);
        if (promote)
        {
            await _bundles.RepointAsync(version, cancellationToken).ConfigureAwait(false);
        }

        return decided;
    }

    /// <summary>Every value the candidate pointer held, oldest first: the fleet's rollout decisions.</summary>
    public async Task<List<CandidatePointer>> HistoryAsync(CancellationToken cancellationToken = default)
    {
        var kv = await _connection.GetBucketAsync(FleetNames.PointerBucket, cancellationToken).ConfigureAwait(false);
        // Each try reads the whole history again into a list of its own: a retried read neither repeats nor loses a value.
        return await _connection.RetryAsync($"history of {FleetNames.CandidatePointerKey} in {FleetNames.PointerBucket}", async token =>
        {
            var history = new List<CandidatePointer>();
            try
            {
                await foreach (var entry in kv.HistoryAsync<byte[]>(FleetNames.CandidatePointerKey, cancellationToken: token).ConfigureAwait(false))
                {
                    if (entry.Value is { Length: > 0 } value)
                    {
                        history.Add(CandidatePointers.Parse(value));
                    }
                }
            }
            catch (NatsKVKeyNotFoundException)
            {
                // No candidate yet.
            }

            return history;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every value of the candidate pointer, starting with the current one (null first when there is none).</summary>
    public IAsyncEnumerable<CandidatePointer?> WatchAsync(CancellationToken cancellationToken = default) =>
        PointerWatch.WatchKeyAsync(_connection, FleetNames.CandidatePointerKey, v => CandidatePointers.Parse(v), cancellationToken);

    private async Task PutAsync(CandidatePointer pointer, CancellationToken cancellationToken)
    {
        var kv = await _connection.GetBucketAsync(FleetNames.PointerBucket, cancellationToken).ConfigureAwait(false);
        await kv.PutAsync(FleetNames.CandidatePointerKey, JsonSerializer.SerializeToUtf8Bytes(pointer, FleetJsonContext.Default.CandidatePointer), cancellationToken: cancellationToken).ConfigureAwait(false);
    }
}
