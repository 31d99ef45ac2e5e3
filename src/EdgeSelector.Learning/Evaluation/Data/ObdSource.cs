namespace EdgeSelector.Learning.Evaluation.Data;

/// <summary>
/// The Open Bandit Dataset as published (Saito et al. 2020): one row per (impression, slot) with <c>item_id</c>
/// (action), <c>position</c> (1-3), <c>click</c> (reward) and <c>propensity_score</c>. The numeric context features
/// are the <c>user-item_affinity_*</c> columns; the hashed categorical <c>user_feature_*</c> columns are not used.
/// </summary>
public sealed class ObdSource : ILoggedBanditSource
{
    private const string AffinityPrefix = "user-item_affinity_";
    private readonly int[] _featureColumns;

    /// <summary>
    /// Opens a campaign: <paramref name="path"/> is either the campaign folder (e.g. <c>random/men</c>, holding
    /// <c>men.csv</c> and <c>item_context.csv</c>) or the rows CSV itself.
    /// </summary>
    public ObdSource(string path)
    {
        if (Directory.Exists(path))
        {
            var name = System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(path));
            var rows = System.IO.Path.Combine(path, name + ".csv");
            if (!File.Exists(rows))
            {
                var candidates = Directory.GetFiles(path, "*.csv").Where(f => !f.EndsWith("item_context.csv", StringComparison.Ordinal)).ToArray();
                rows = candidates.Length == 1
                    ? candidates[0]
                    : throw new EvaluationInputException($"{path}: expected one rows CSV ({name}.csv) beside item_context.csv.");
            }

            path = rows;
        }

        RowsPath = path;
        using var table = CsvTable.Open(path);
        foreach (var column in new[] { "item_id", "position", "click", "propensity_score" })
        {
            table.Require(column);
        }

        _featureColumns = Enumerable.Range(0, table.Header.Length)
            .Where(i => table.Header[i].StartsWith(AffinityPrefix, StringComparison.Ordinal))
            .ToArray();
        FeatureNames = _featureColumns.Select(i => table.Header[i]).ToArray();

        var itemContext = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, "item_context.csv");
        if (File.Exists(itemContext))
        {
            using var items = CsvTable.Open(itemContext);
            var id = items.Require("item_id");
            var max = -1;
            while (items.MoveNext())
            {
                max = Math.Max(max, items.Int(id));
            }

            ItemCount = max + 1;
        }
    }

    /// <summary>The rows CSV being read.</summary>
    public string RowsPath { get; }

    /// <summary>Number of items from <c>item_context.csv</c>, or 0 when it is absent (item ids are then not range-checked).</summary>
    public int ItemCount { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> FeatureNames { get; }

    /// <inheritdoc />
    public ILoggedSampleReader OpenReader() => new Reader(this, CsvTable.Open(RowsPath));

    private sealed class Reader(ObdSource source, CsvTable table) : ILoggedSampleReader
    {
        private readonly int _item = table.Require("item_id");
        private readonly int _position = table.Require("position");
        private readonly int _click = table.Require("click");
        private readonly int _propensity = table.Require("propensity_score");
        private long _row;

        public bool TryRead(LoggedSample sample)
        {
            if (!table.MoveNext())
            {
                return false;
            }

            sample.RowIndex = _row++;
            sample.Action = table.Int(_item);
            if (sample.Action < 0 || (source.ItemCount > 0 && sample.Action >= source.ItemCount))
            {
                throw table.Error($"item_id {sample.Action} is outside 0..{source.ItemCount - 1} (item_context.csv)");
            }

            sample.Position = table.Int(_position);
            sample.Group = 0;
            sample.Reward = table.Double(_click);
            sample.Propensity = table.Double(_propensity);
            var features = sample.Features;
            for (var i = 0; i < source._featureColumns.Length; i++)
            {
                features[i] = (float)table.Double(source._featureColumns[i]);
            }

            return true;
        }

        public void Dispose() => table.Dispose();
    }
}
