using EdgeSelector.Learning.Evaluation.Data;

namespace EdgeSelector.Learning.Evaluation.Policies;

/// <summary>
/// A policy that ignores the context: a fixed distribution over actions per display position, read from a CSV with
/// header <c>item_id,position,probability</c> (without <c>position</c>, one distribution serves every position).
/// </summary>
public sealed class ContextFreePolicy : TargetPolicy
{
    /// <summary>Tolerance for "probabilities per position sum to 1".</summary>
    public const double SumTolerance = 1e-6;

    private const int AnyPosition = int.MinValue;
    private readonly Dictionary<int, Entry> _byPosition;

    /// <summary>Builds a policy from (item, position, probability) triples; position null means every position.</summary>
    public ContextFreePolicy(IEnumerable<(int Item, int? Position, double Probability)> entries, string origin = "policy")
    {
        var grouped = new Dictionary<int, Dictionary<int, double>>();
        foreach (var (item, position, probability) in entries)
        {
            if (item < 0)
            {
                throw new EvaluationInputException($"{origin}: item_id {item} is negative.");
            }

            if (!(probability >= 0 && probability <= 1))
            {
                throw new EvaluationInputException($"{origin}: probability {probability} of item {item} is outside [0, 1].");
            }

            var key = position ?? AnyPosition;
            if (!grouped.TryGetValue(key, out var items))
            {
                grouped[key] = items = [];
            }

            if (!items.TryAdd(item, probability))
            {
                throw new EvaluationInputException($"{origin}: item {item} appears twice for {Describe(key)}.");
            }
        }

        if (grouped.Count == 0)
        {
            throw new EvaluationInputException($"{origin}: the policy lists no items.");
        }

        if (grouped.ContainsKey(AnyPosition) && grouped.Count > 1)
        {
            throw new EvaluationInputException($"{origin}: rows without a position cannot be mixed with per-position rows.");
        }

        _byPosition = [];
        foreach (var (position, items) in grouped)
        {
            var sum = items.Values.Sum();
            if (Math.Abs(sum - 1) > SumTolerance)
            {
                throw new EvaluationInputException($"{origin}: probabilities for {Describe(position)} sum to {sum:R}, not 1.");
            }

            var dense = new double[items.Keys.Max() + 1];
            foreach (var (item, p) in items)
            {
                dense[item] = p;
            }

            var support = items.Where(kv => kv.Value > 0).OrderBy(kv => kv.Key).Select(kv => new ActionProbability(kv.Key, kv.Value)).ToArray();
            _byPosition[position] = new Entry(dense, support);
        }
    }

    /// <inheritdoc />
    public override bool HasFullDistribution => true;

    /// <summary>Reads a policy CSV (<c>item_id,position,probability</c>, position optional).</summary>
    public static ContextFreePolicy Load(string path)
    {
        using var table = CsvTable.Open(path);
        var item = table.Require("item_id");
        var position = table.IndexOf("position");
        var probability = table.Require("probability");
        var entries = new List<(int, int?, double)>();
        while (table.MoveNext())
        {
            entries.Add((table.Int(item), position >= 0 ? table.Int(position) : null, table.Double(probability)));
        }

        return new ContextFreePolicy(entries, path);
    }

    /// <inheritdoc />
    public override IPolicyCursor Open() => new Cursor(this);

    private static string Describe(int position) => position == AnyPosition ? "all positions" : $"position {position}";

    private sealed record Entry(double[] Dense, ActionProbability[] Support);

    private sealed class Cursor(ContextFreePolicy policy) : IPolicyCursor
    {
        private Entry? _current;

        public ReadOnlySpan<ActionProbability> Distribution => _current!.Support;

        public void MoveTo(LoggedSample sample)
        {
            var key = policy._byPosition.ContainsKey(AnyPosition) ? AnyPosition : sample.Position;
            if (!policy._byPosition.TryGetValue(key, out _current))
            {
                throw new EvaluationInputException($"Row {sample.RowIndex}: the policy has no distribution for position {sample.Position}.");
            }
        }

        public double Probability(int action)
        {
            var dense = _current!.Dense;
            return (uint)action < (uint)dense.Length ? dense[action] : 0;
        }

        public void Finish()
        {
        }

        public void Dispose()
        {
        }
    }
}
