using EdgeSelector.Storage.Health;
using EdgeSelector.Storage.Internal;
using FASTER.core;

namespace EdgeSelector.Storage.Models;

/// <summary>Opening: the FASTER pieces, verified recovery (<see cref="KvOpen"/>), and tearing them down.</summary>
public sealed partial class ModelStore : IKvLifecycle
{
    KvCheckpoints IKvLifecycle.Checkpoints => _checkpoints;

    void IKvLifecycle.Create()
    {
        _checkpoints = new KvCheckpoints(_root, "models.log", _segmentBytes, Health);
        _logDevice = _checkpoints.Log;
        try
        {
            using var settings = new FasterKVSettings<long, SpanByte>
            {
                IndexSize = _indexBytes,
                LogDevice = _logDevice,
                MemorySize = _memoryBytes,
                PageSize = _pageBytes,
                SegmentSize = _segmentBytes,
                CheckpointManager = _checkpoints.Manager,
                TryRecoverLatest = false,
                ValueLength = new SpanByteVarLenStruct(),
            };
            _store = new FasterKV<long, SpanByte>(settings);
            _writer = _store.For(new ModelWriteFunctions()).NewSession<ModelWriteFunctions>();
            _readPools = CreateReadPools(_options.Readers);
        }
        catch
        {
            _store?.Dispose();
            _logDevice.Dispose();
            throw;
        }
    }

    void IKvLifecycle.Destroy() => DestroyFaster();

    void IKvLifecycle.Recover(Guid indexToken, Guid logToken)
    {
        _store.Recover(indexToken, logToken);
        RecoverManifest();
    }

    void IKvLifecycle.RecoverLatest()
    {
        _store.Recover();
        RecoverManifest();
    }

    string IKvLifecycle.Describe() =>
        _active is null ? "no bundle" : $"bundle {_active.Version} with {_active.TitleIds.Length} titles ({_history.Length} kept for rollback)";

    private StoreOpenReport OpenChecked(DamagePolicy policy) => KvOpen.Open(Health.Store, _root, policy, this);

    private void DestroyFaster()
    {
        foreach (var pool in _readPools)
        {
            pool?.Dispose();
        }

        _readPools = [];

        _writer?.Dispose();
        _store?.Dispose();
        _logDevice?.Dispose();
        _active = null;
        _history = [];
        _metadata = [];
        _pendingDelete.Clear();
        _nextGeneration = 1;
    }
}
