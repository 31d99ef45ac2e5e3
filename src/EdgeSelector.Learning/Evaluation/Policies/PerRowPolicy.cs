using EdgeSelector.Learning.Evaluation.Data;

namespace EdgeSelector.Learning.Evaluation.Policies;

/// <summary>
/// A policy given row by row, aligned with the logged rows by order: either one column <c>probability</c> (the target
/// policy's probability of the logged action on that row: enough for IPS, SNIPS and replay) or columns
/// <c>p_0..p_{K-1}</c> (the whole distribution over actions at that row's position; each row must sum to 1).
/// </summary>
public sealed class PerRowPolicy : TargetPolicy
{
    private readonly string _path;
    private readonly int[] _actionColumns;
    private readonly int[] _actions;

    /// <summary>Checks the header of <paramref name="path"/>.</summary>
    public PerRowPolicy(string path)
    {
        _path = path;
        using var table = CsvTable.Open(path);
        var columns = Enumerable.Range(0, table.Header.Length)
            .Where(i => table.Header[i].StartsWith("p_", StringComparison.Ordinal))
            .ToArray();
        _actions = new int[columns.Length];
        for (var i = 0; i < columns.Length; i++)
        {
            if (!int.TryParse(table.Header[columns[i]].AsSpan(2), out _actions[i]) || _actions[i] < 0)
            {
                throw new EvaluationInputException($"{path}: column '{table.Header[columns[i]]}' is not p_<action>.");
            }
        }

        _actionColumns = columns;
        if (_actionColumns.Length == 0)
        {
            table.Require("probability");
        }
    }

    /// <inheritdoc />
    public override bool HasFullDistribution => _actionColumns.Length > 0;

    /// <summary>True when <paramref name="header"/> is that of a per-row policy file rather than a context-free one.</summary>
    public static bool IsPerRowHeader(IReadOnlyList<string> header) =>
        !header.Contains("item_id") && (header.Contains("probability") || header.Any(h => h.StartsWith("p_", StringComparison.Ordinal)));

    /// <inheritdoc />
    public override IPolicyCursor Open() => new Cursor(this, CsvTable.Open(_path));

    private sealed class Cursor : IPolicyCursor
    {
        private readonly PerRowPolicy _policy;
        private readonly CsvTable _table;
        private readonly int _probabilityColumn;
        private readonly double[] _dense;
        private readonly ActionProbability[] _support;
        private int _supportCount;
        private LoggedSample? _sample;
        private double _loggedProbability;

        public Cursor(PerRowPolicy policy, CsvTable table)
        {
            _policy = policy;
            _table = table;
            _probabilityColumn = table.IndexOf("probability");
            _dense = new double[policy._actions.Length == 0 ? 0 : policy._actions.Max() + 1];
            _support = new ActionProbability[policy._actions.Length];
        }

        public ReadOnlySpan<ActionProbability> Distribution => _support.AsSpan(0, _supportCount);

        public void MoveTo(LoggedSample sample)
        {
            if (!_table.MoveNext())
            {
                throw new EvaluationInputException($"{_policy._path}: has fewer rows than the data (data row {sample.RowIndex} has no policy row).");
            }

            _sample = sample;
            if (_policy._actionColumns.Length == 0)
            {
                _loggedProbability = _table.Double(_probabilityColumn);
                if (!(_loggedProbability >= 0 && _loggedProbability <= 1))
                {
                    throw _table.Error($"probability {_loggedProbability} is outside [0, 1]");
                }

                return;
            }

            var sum = 0.0;
            _supportCount = 0;
            for (var i = 0; i < _policy._actionColumns.Length; i++)
            {
                var p = _table.Double(_policy._actionColumns[i]);
                if (!(p >= 0 && p <= 1))
                {
                    throw _table.Error($"{_table.Header[_policy._actionColumns[i]]} = {p} is outside [0, 1]");
                }

                _dense[_policy._actions[i]] = p;
                sum += p;
                if (p > 0)
                {
                    _support[_supportCount++] = new ActionProbability(_policy._actions[i], p);
                }
            }

            if (Math.Abs(sum - 1) > ContextFreePolicy.SumTolerance)
            {
                throw _table.Error($"probabilities sum to {sum:R}, not 1");
            }
        }

        public double Probability(int action)
        {
            if (_policy._actionColumns.Length == 0)
            {
                // Only the logged action's probability is known.
                return action == _sample!.Action
                    ? _loggedProbability
                    : throw new InvalidOperationException("A probability-only per-row policy knows only the logged action.");
            }

            return (uint)action < (uint)_dense.Length ? _dense[action] : 0;
        }

        public void Finish()
        {
            if (_table.MoveNext())
            {
                throw new EvaluationInputException($"{_policy._path}: has more rows than the data.");
            }
        }

        public void Dispose() => _table.Dispose();
    }
}
