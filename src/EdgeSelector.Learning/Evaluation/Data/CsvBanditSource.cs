namespace EdgeSelector.Learning.Evaluation.Data;

/// <summary>
/// A generic logged-bandit CSV, driven by its header: <c>action</c> (integer ≥ 0), <c>propensity</c> (in (0, 1]) and
/// <c>reward</c> are required; <c>position</c> is optional (1 when absent); every column whose name starts with
/// <c>x_</c> is a numeric context feature; other columns are ignored. See docs/evaluation.md.
/// </summary>
public sealed class CsvBanditSource : ILoggedBanditSource
{
    /// <summary>Prefix that marks a context-feature column.</summary>
    public const string FeaturePrefix = "x_";

    private readonly string _path;
    private readonly int[] _featureColumns;

    /// <summary>Opens <paramref name="path"/> and checks its header.</summary>
    public CsvBanditSource(string path)
    {
        _path = path;
        using var table = CsvTable.Open(path);
        table.Require("action");
        table.Require("propensity");
        table.Require("reward");
        _featureColumns = Enumerable.Range(0, table.Header.Length)
            .Where(i => table.Header[i].StartsWith(FeaturePrefix, StringComparison.Ordinal))
            .ToArray();
        FeatureNames = _featureColumns.Select(i => table.Header[i]).ToArray();
    }

    /// <inheritdoc />
    public IReadOnlyList<string> FeatureNames { get; }

    /// <inheritdoc />
    public ILoggedSampleReader OpenReader() => new Reader(_featureColumns, CsvTable.Open(_path));

    private sealed class Reader(int[] featureColumns, CsvTable table) : ILoggedSampleReader
    {
        private readonly int _action = table.Require("action");
        private readonly int _position = table.IndexOf("position");
        private readonly int _propensity = table.Require("propensity");
        private readonly int _reward = table.Require("reward");
        private long _row;

        public bool TryRead(LoggedSample sample)
        {
            if (!table.MoveNext())
            {
                return false;
            }

            sample.RowIndex = _row++;
            sample.Action = table.Int(_action);
            if (sample.Action < 0)
            {
                throw table.Error($"action {sample.Action} is negative");
            }

            sample.Position = _position >= 0 ? table.Int(_position) : 1;
            sample.Group = 0;
            sample.Propensity = table.Double(_propensity);
            sample.Reward = table.Double(_reward);
            var features = sample.Features;
            for (var i = 0; i < featureColumns.Length; i++)
            {
                features[i] = (float)table.Double(featureColumns[i]);
            }

            return true;
        }

        public void Dispose() => table.Dispose();
    }
}
