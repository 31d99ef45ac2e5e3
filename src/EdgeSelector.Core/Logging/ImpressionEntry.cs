namespace EdgeSelector.Core.Logging;

/// <summary>
/// Any impression entry a log may hold, read in place: a page entry (kind 3, what the server writes) or a version-1
/// per-title record (kind 1, logs written before pages). Readers above it see per-title <see cref="ImpressionRecord"/>
/// views either way:
/// <code>
/// if (ImpressionEntry.TryRead(payload, out var entry))
///     foreach (var impression in entry) { ... }
/// </code>
/// </summary>
public readonly ref struct ImpressionEntry
{
    private readonly ImpressionPageReader _page;
    private readonly ImpressionRecord _single;
    private readonly bool _isPage;

    private ImpressionEntry(ImpressionPageReader page)
    {
        _page = page;
        _isPage = true;
    }

    private ImpressionEntry(ImpressionRecord single) => _single = single;

    /// <summary>
    /// Opens an impression entry; false for anything else (a reward, a kind or version this code does not know, a
    /// truncated entry).
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ImpressionEntry entry)
    {
        switch (LogRecord.PeekKind(source))
        {
            case LogRecordKind.ImpressionPage when ImpressionPageReader.TryRead(source, out var page):
                entry = new ImpressionEntry(page);
                return true;
            case LogRecordKind.Impression when ImpressionRecord.TryReadRecord(source, out var record):
                entry = new ImpressionEntry(record);
                return true;
            default:
                entry = default;
                return false;
        }
    }

    /// <summary>True for a page entry, false for a per-title record.</summary>
    public bool IsPage => _isPage;

    /// <summary>How many impressions (titles) the entry holds.</summary>
    public int Count => _isPage ? _page.Count : 1;

    /// <summary>Impression <paramref name="index"/> as the per-title view.</summary>
    public void GetImpression(int index, out ImpressionRecord record)
    {
        if (_isPage)
        {
            _page.GetImpression(index, out record);
            return;
        }

        ArgumentOutOfRangeException.ThrowIfNotEqual(index, 0);
        record = _single;
    }

    /// <summary>Enumerates the impressions in order.</summary>
    public Enumerator GetEnumerator() => new(this);

    /// <summary>Walks an entry's impressions.</summary>
    public ref struct Enumerator
    {
        private readonly ImpressionEntry _entry;
        private ImpressionPageReader.Enumerator _titles;
        private bool _singleDone;

        internal Enumerator(ImpressionEntry entry)
        {
            _entry = entry;
            _titles = entry._isPage ? entry._page.GetEnumerator() : default;
        }

        /// <summary>The current impression.</summary>
        public readonly ImpressionRecord Current => _entry._isPage ? _titles.Current : _entry._single;

        /// <summary>Moves to the next impression.</summary>
        public bool MoveNext()
        {
            if (_entry._isPage)
            {
                return _titles.MoveNext();
            }

            if (_singleDone)
            {
                return false;
            }

            _singleDone = true;
            return true;
        }
    }
}
