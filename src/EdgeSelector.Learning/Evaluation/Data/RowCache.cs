namespace EdgeSelector.Learning.Evaluation.Data;

/// <summary>
/// Logged rows kept column by column (no per-row objects) under a byte budget, so a multi-pass fit can re-read a log
/// that fits without re-parsing it, and a log that does not fit falls back to streaming.
/// </summary>
internal sealed class RowCache : ILoggedBanditSource
{
    private readonly int _featureCount;
    private readonly long _maxRows;
    private readonly List<int> _actions = [];
    private readonly List<int> _positions = [];
    private readonly List<long> _groups = [];
    private readonly List<double> _propensities = [];
    private readonly List<double> _rewards = [];
    private readonly List<float> _features = [];

    /// <summary>A cache for rows of <paramref name="featureNames"/>, holding at most <paramref name="budgetBytes"/> of row data.</summary>
    public RowCache(IReadOnlyList<string> featureNames, long budgetBytes)
    {
        FeatureNames = featureNames;
        _featureCount = featureNames.Count;
        // The lists may over-allocate by up to 2x while growing; the budget is on the data itself.
        _maxRows = budgetBytes / BytesPerRow(_featureCount);
    }

    public IReadOnlyList<string> FeatureNames { get; }

    public int Count => _actions.Count;

    /// <summary>Bytes one cached row takes: action, position, group, propensity, reward and the features.</summary>
    public static long BytesPerRow(int featureCount) => 4 + 4 + 8 + 8 + 8 + (4L * featureCount);

    /// <summary>Appends the next row; false (nothing added) when it would exceed the budget or is out of order.</summary>
    public bool TryAdd(LoggedSample sample)
    {
        if (_actions.Count >= _maxRows || sample.RowIndex != _actions.Count)
        {
            return false;
        }

        _actions.Add(sample.Action);
        _positions.Add(sample.Position);
        _groups.Add(sample.Group);
        _propensities.Add(sample.Propensity);
        _rewards.Add(sample.Reward);
        _features.AddRange(sample.Features);
        return true;
    }

    public ILoggedSampleReader OpenReader() => new Reader(this);

    private sealed class Reader(RowCache cache) : ILoggedSampleReader
    {
        private int _next;

        public bool TryRead(LoggedSample sample)
        {
            if (_next >= cache._actions.Count)
            {
                return false;
            }

            var i = _next++;
            sample.RowIndex = i;
            sample.Action = cache._actions[i];
            sample.Position = cache._positions[i];
            sample.Group = cache._groups[i];
            sample.Propensity = cache._propensities[i];
            sample.Reward = cache._rewards[i];
            sample.Impression = null;
            for (var f = 0; f < cache._featureCount; f++)
            {
                sample.Features[f] = cache._features[(i * cache._featureCount) + f];
            }

            return true;
        }

        public void Dispose()
        {
        }
    }
}
