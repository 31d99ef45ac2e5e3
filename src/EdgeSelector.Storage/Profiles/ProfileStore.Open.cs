using EdgeSelector.Core.Features;
using EdgeSelector.Storage.Internal;
using FASTER.core;

namespace EdgeSelector.Storage.Profiles;

/// <summary>Opening: the FASTER pieces, verified recovery (<see cref="KvOpen"/>), and tearing them down.</summary>
public sealed partial class ProfileStore : IKvLifecycle
{
    KvCheckpoints IKvLifecycle.Checkpoints => _checkpoints;

    void IKvLifecycle.Create()
    {
        _checkpoints = new KvCheckpoints(_root, "profiles.log", _segmentBytes, Health);
        _logDevice = _checkpoints.Log;
        try
        {
            using var settings = new FasterKVSettings<long, MemberProfile>
            {
                IndexSize = _indexBytes,
                LogDevice = _logDevice,
                MemorySize = _memoryBytes,
                PageSize = _pageBytes,
                SegmentSize = _segmentBytes,
                CheckpointManager = _checkpoints.Manager,
                TryRecoverLatest = false,
            };
            _store = new FasterKV<long, MemberProfile>(settings);
            var functions = new SimpleFunctions<long, MemberProfile, Empty>();
            var store = _store;
            _sessions = new(() => store.For(functions).NewSession<SimpleFunctions<long, MemberProfile, Empty>>(), _options.SessionPoolSize);
        }
        catch
        {
            _store?.Dispose();
            _logDevice.Dispose();
            throw;
        }
    }

    void IKvLifecycle.Destroy() => DestroyFaster();

    bool IKvLifecycle.RecoversWithoutIndex => true;

    void IKvLifecycle.Recover(Guid indexToken, Guid logToken)
    {
        // An empty index token: the hybrid-log checkpoint alone, FASTER rebuilding the index from a scan of the log
        // (KvOpen, when the index checkpoint is damaged); _indexToken stays empty, so the next checkpoint is full.
        _store.Recover(indexToken, logToken);
        _indexToken = indexToken;

        // Where that index checkpoint started is in FASTER's internal metadata; a full checkpoint's started about where
        // the recovered log ends. After a log-only one, count from the log's start: the first write-bearing checkpoint
        // then writes the index if the log is longer than the bound (once per restart at most).
        _indexTailAddress = indexToken == logToken ? _store.Log.TailAddress : _store.Log.BeginAddress;
    }

    void IKvLifecycle.RecoverLatest()
    {
        _store.Recover();
        _indexToken = Guid.Empty; // the next durable write takes a full checkpoint and records it
    }

    string IKvLifecycle.Describe() => $"log of {_store.Log.TailAddress - _store.Log.BeginAddress} bytes";

    private void DestroyFaster()
    {
        _sessions?.Dispose();
        _store?.Dispose();
        _logDevice?.Dispose();
        _indexToken = Guid.Empty;
    }
}
