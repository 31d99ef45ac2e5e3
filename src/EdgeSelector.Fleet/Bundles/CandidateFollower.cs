using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace EdgeSelector.Fleet.Bundles;

/// <summary>
/// A node's side of the fleet's candidate slot (docs/rollout.md, "Fleet"): watches
/// <see cref="FleetNames.CandidatePointerKey"/>; a <c>running</c> candidate the node does not try yet is downloaded
/// (size and SHA-256 checked) and handed to the applier (the checks of <c>PUT /v1/rollout/candidate</c>); a
/// <c>promoted</c> or <c>rolled_back</c> value is handed over as the control plane's decision. Each value is handled
/// once; a refusal is logged and kept in <see cref="LastError"/>, and the node keeps serving what it serves.
/// </summary>
public sealed class CandidateFollower
{
    private readonly CandidateChannel _channel;
    private readonly Func<ulong> _triedVersion;
    private readonly Func<CandidatePointer, byte[]?, Task<string?>> _apply;
    private readonly ILogger _logger;
    private string? _handled;

    /// <summary>
    /// Creates the follower. <paramref name="triedVersion"/> is the candidate the node tries (0: none);
    /// <paramref name="apply"/> gets a value with the bundle bytes (a running candidate not tried yet) or without
    /// (a decision, or a fraction change of the candidate tried) and completes with null or why it refused.
    /// </summary>
    public CandidateFollower(FleetConnection connection, Func<ulong> triedVersion, Func<CandidatePointer, byte[]?, Task<string?>> apply, ILogger logger)
    {
        _channel = new CandidateChannel(connection);
        _triedVersion = triedVersion;
        _apply = apply;
        _logger = logger;
    }

    /// <summary>The last candidate value seen (null: none yet).</summary>
    public CandidatePointer? Pointer { get; private set; }

    /// <summary>Why the last value was not applied, while it is not.</summary>
    public string? LastError { get; private set; }

    /// <summary>Follows the candidate pointer until <paramref name="cancellationToken"/> fires.</summary>
    public Task RunAsync(CancellationToken cancellationToken) =>
        PointerWatch.FollowAsync(_channel.WatchAsync, HandleAsync, Failed, cancellationToken);

    private void Failed(Exception e)
    {
        if (LastError != e.Message)
        {
            _logger.LogWarning("fleet: cannot follow the candidate pointer ({Error}); retrying", e.Message);
        }

        LastError = e.Message;
    }

    private async Task HandleAsync(CandidatePointer? pointer, CancellationToken cancellationToken)
    {
        if (pointer is null)
        {
            return;
        }

        Pointer = pointer;
        var key = $"{pointer.Version}/{pointer.State}/{pointer.Fraction}/{pointer.PointedAtMs}";
        if (key == _handled)
        {
            return; // the watch delivers the latest value again after a reconnect
        }

        byte[]? bytes = null;
        string? refused = null;
        if (pointer.State == CandidatePointer.Running && _triedVersion() != pointer.Version)
        {
            try
            {
                bytes = await _channel.Bundles.DownloadAsync(pointer.AsBundlePointer(), cancellationToken).ConfigureAwait(false);
            }
            catch (FleetException e) when (e.Message.Contains("digest mismatch", StringComparison.Ordinal))
            {
                refused = e.Message; // not retried: the object will not change
            }
        }

        refused ??= await _apply(pointer, bytes).ConfigureAwait(false);
        _handled = key;
        LastError = refused is null ? null : $"candidate {pointer.Version} ({pointer.State}): {refused}";
        if (refused is null)
        {
            _logger.LogInformation("fleet: candidate {Version} {State} ({By}): {Reason}", pointer.Version, pointer.State, pointer.By, pointer.Reason);
        }
        else
        {
            _logger.LogWarning("fleet: candidate {Version} {State} not applied here: {Refusal}", pointer.Version, pointer.State, refused);
        }
    }
}
