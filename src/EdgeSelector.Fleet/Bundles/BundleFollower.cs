using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace EdgeSelector.Fleet.Bundles;

/// <summary>How a node's applier answered a downloaded bundle.</summary>
/// <param name="Applied">True when the bundle is now served.</param>
/// <param name="Reason">Why it was refused: <c>signature</c>, <c>model</c>, <c>format</c>, … (a metric label).</param>
/// <param name="Message">The refusal for a person.</param>
public readonly record struct BundleApplyResult(bool Applied, string Reason, string Message);

/// <summary>
/// A node's side of model distribution (docs/fleet.md, "Bundles"): watches the pointer, downloads the bundle it names,
/// checks size and SHA-256, hands it to the applier (which verifies the signature and every model and swaps the
/// generation atomically). A refused bundle is remembered by digest and not tried again; the node keeps serving its
/// current version and says why in its log, its metrics and its heartbeat.
/// </summary>
public sealed class BundleFollower
{
    private readonly BundleChannel _channel;
    private readonly Func<BundlePointer, byte[], Task<BundleApplyResult>> _apply;
    private readonly Func<ulong> _servedVersion;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, long> _refusals = new(StringComparer.Ordinal);
    private readonly HashSet<string> _refusedDigests = new(StringComparer.OrdinalIgnoreCase);
    private string? _appliedDigest;
    private volatile bool _caughtUp;
    private long _pointerVersion;
    private BundlePointer? _pointer;

    /// <summary>Creates the follower; <paramref name="apply"/> is awaited (it waits for the model store's checkpoint).</summary>
    public BundleFollower(FleetConnection connection, Func<BundlePointer, byte[], Task<BundleApplyResult>> apply, Func<ulong> servedVersion, ILogger logger)
    {
        _channel = new BundleChannel(connection);
        _apply = apply;
        _servedVersion = servedVersion;
        _logger = logger;
    }

    /// <summary>True once the current pointer (or its absence) has been handled: applied, already served, or refused.</summary>
    public bool CaughtUp => _caughtUp;

    /// <summary>Version of the last pointer seen (0 = none yet).</summary>
    public ulong PointerVersion => (ulong)Interlocked.Read(ref _pointerVersion);

    /// <summary>The last pointer seen (null = none yet): what the node's dashboard shows as the fleet's pointer.</summary>
    public BundlePointer? Pointer => Volatile.Read(ref _pointer);

    /// <summary>Why the pointer's bundle is not served, while it is not (refused, or the download failing).</summary>
    public string? LastError { get; private set; }

    /// <summary>Refusals so far by reason (digest, signature, model, …).</summary>
    public IReadOnlyDictionary<string, long> Refusals => _refusals;

    /// <summary>Follows the pointer until <paramref name="cancellationToken"/> fires.</summary>
    public Task RunAsync(CancellationToken cancellationToken) =>
        PointerWatch.FollowAsync(_channel.WatchAsync, HandleAsync, Failed, cancellationToken);

    private void Failed(Exception e)
    {
        if (LastError != e.Message)
        {
            _logger.LogWarning("fleet: cannot follow the bundle pointer ({Error}); retrying", e.Message);
        }

        LastError = e.Message;
    }

    private async Task HandleAsync(BundlePointer? pointer, CancellationToken cancellationToken)
    {
        if (pointer is null)
        {
            _caughtUp = true; // nothing pushed yet: the local checkpoint is all there is
            return;
        }

        Interlocked.Exchange(ref _pointerVersion, (long)pointer.Version);
        Volatile.Write(ref _pointer, pointer);
        if (string.Equals(_appliedDigest, pointer.Sha256, StringComparison.OrdinalIgnoreCase)
            || (_appliedDigest is null && _servedVersion() == pointer.Version))
        {
            _appliedDigest = pointer.Sha256;
            LastError = null;
            _caughtUp = true;
            return;
        }

        if (_refusedDigests.Contains(pointer.Sha256))
        {
            _caughtUp = true;
            return;
        }

        byte[] bytes;
        try
        {
            bytes = await _channel.DownloadAsync(pointer, cancellationToken).ConfigureAwait(false);
        }
        catch (FleetException e) when (e.Message.Contains("digest mismatch", StringComparison.Ordinal))
        {
            Refuse(pointer, "digest", e.Message);
            return;
        }

        var result = await _apply(pointer, bytes).ConfigureAwait(false);
        if (result.Applied)
        {
            _appliedDigest = pointer.Sha256;
            LastError = null;
            _caughtUp = true;
            _logger.LogInformation("fleet: applied bundle {Version} ({Bytes} bytes, sha256 {Sha})", pointer.Version, bytes.Length, pointer.Sha256[..12]);
        }
        else
        {
            Refuse(pointer, result.Reason, result.Message);
        }
    }

    private void Refuse(BundlePointer pointer, string reason, string message)
    {
        _refusedDigests.Add(pointer.Sha256);
        _refusals.AddOrUpdate(reason, 1, (_, n) => n + 1);
        LastError = $"bundle {pointer.Version} refused ({reason}): {message}";
        _caughtUp = true; // it has decided: it keeps serving what it serves
        _logger.LogError("fleet: refused bundle {Version} ({Reason}): {Message}; still serving version {Served}", pointer.Version, reason, message, _servedVersion());
    }
}
