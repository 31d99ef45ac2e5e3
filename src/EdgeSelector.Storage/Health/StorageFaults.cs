namespace EdgeSelector.Storage.Health;

/// <summary>
/// Fault injection for the stores' devices (tests and fault drills): while <see cref="FailWrites"/> is set, every
/// write of a store that was opened with this object fails as if the disk were full, without touching the disk.
/// A store takes it through its options (<c>Faults</c>); production code passes none.
/// </summary>
public sealed class StorageFaults
{
    private volatile bool _failWrites;
    private volatile string? _fileFilter;

    /// <summary>Writes fail (and are retried, as on a full disk) while this is true.</summary>
    public bool FailWrites
    {
        get => _failWrites;
        set => _failWrites = value;
    }

    /// <summary>Only files whose path contains this text fail (null: every file of the store).</summary>
    public string? FileFilter
    {
        get => _fileFilter;
        set => _fileFilter = value;
    }

    internal bool ShouldFail(string fileName)
    {
        if (!_failWrites)
        {
            return false;
        }

        var filter = _fileFilter;
        return filter is null || fileName.Contains(filter, StringComparison.Ordinal);
    }
}
