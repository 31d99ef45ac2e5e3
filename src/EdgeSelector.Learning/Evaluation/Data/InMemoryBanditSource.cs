namespace EdgeSelector.Learning.Evaluation.Data;

/// <summary>A logged bandit dataset held in memory: for tests and small synthetic worlds.</summary>
public sealed class InMemoryBanditSource : ILoggedBanditSource
{
    private readonly IReadOnlyList<Row> _rows;

    /// <summary>Wraps <paramref name="rows"/>; every row must carry <paramref name="featureNames"/>.Count features.</summary>
    public InMemoryBanditSource(IReadOnlyList<string> featureNames, IReadOnlyList<Row> rows)
    {
        FeatureNames = featureNames;
        _rows = rows;
    }

    /// <inheritdoc />
    public IReadOnlyList<string> FeatureNames { get; }

    /// <inheritdoc />
    public ILoggedSampleReader OpenReader() => new Reader(_rows);

    /// <summary>One stored row (<paramref name="Group"/>: see <see cref="LoggedSample.Group"/>).</summary>
    public readonly record struct Row(int Action, int Position, double Propensity, double Reward, float[] Features, long Group = 0);

    private sealed class Reader(IReadOnlyList<Row> rows) : ILoggedSampleReader
    {
        private int _next;

        public bool TryRead(LoggedSample sample)
        {
            if (_next >= rows.Count)
            {
                return false;
            }

            var row = rows[_next];
            sample.RowIndex = _next++;
            sample.Action = row.Action;
            sample.Position = row.Position;
            sample.Group = row.Group;
            sample.Propensity = row.Propensity;
            sample.Reward = row.Reward;
            row.Features.AsSpan().CopyTo(sample.Features);
            return true;
        }

        public void Dispose()
        {
        }
    }
}
