using EdgeSelector.Server.Hosting;
using EdgeSelector.Storage.Impressions;

namespace EdgeSelector.Server.Diagnostics;

/// <summary>
/// Logs what the stores do on their own timers (docs/operations.md, "Logging"): a log rotating (old segments dropped
/// by <c>LogRetentionMB</c>) and a periodic checkpoint failing or recovering. The stores keep counters and their last
/// failure; this reads them once a second, so the storage library needs no logging of its own and the request path is
/// never touched.
/// </summary>
internal sealed class StoreEvents : IDisposable
{
    private readonly NodeStores _stores;
    private readonly ILogger _logger;
    private readonly Timer _timer;
    private long _impressionSegments;
    private long _rewardSegments;
    private Exception? _modelFailure;
    private Exception? _profileFailure;

    public StoreEvents(NodeStores stores, ILogger logger, TimeSpan interval)
    {
        _stores = stores;
        _logger = logger;
        _impressionSegments = stores.Impressions?.RotatedSegments ?? 0;
        _rewardSegments = stores.Rewards.RotatedSegments;
        _modelFailure = stores.Models.LastCheckpointFailure;
        _profileFailure = stores.Profiles.LastCheckpointFailure;
        _timer = new Timer(static state => ((StoreEvents)state!).Poll(), this, interval, interval);
    }

    public void Dispose() => _timer.Dispose();

    private void Poll()
    {
        try
        {
            if (_stores.Impressions is { } impressions)
            {
                Rotation("impression", impressions, ref _impressionSegments);
            }

            Rotation("reward", _stores.Rewards, ref _rewardSegments);
            Failure("model", _stores.Models.LastCheckpointFailure, ref _modelFailure);
            Failure("profile", _stores.Profiles.LastCheckpointFailure, ref _profileFailure);
        }
        catch (ObjectDisposedException)
        {
            // shutting down: the stores closed under the timer
        }
    }

    private void Rotation(string name, ImpressionLog log, ref long seen)
    {
        var segments = log.RotatedSegments;
        if (segments != seen)
        {
            NodeLog.LogRotated(_logger, name, segments - seen, log.BeginAddress, log.TailAddress);
            seen = segments;
        }
    }

    private void Failure(string store, Exception? failure, ref Exception? seen)
    {
        if (!ReferenceEquals(failure, seen) && failure is not null)
        {
            NodeLog.CheckpointFailed(_logger, store, failure.Message);
        }

        seen = failure;
    }
}
