using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;

namespace EdgeSelector.Learning.Evaluation.Policies;

/// <summary>
/// One of our own policies as the server would run it: Core's <see cref="SelectionEngine"/> with given options over
/// a set of title model blobs (docs/model-format.md), applied to each logged impression's rebuilt request. Needs an
/// impression log (<see cref="LoggedSample.Impression"/>); the distribution is the engine's exact pmf.
/// </summary>
/// <remarks>
/// A row the server answered by falling back (logged with no candidates: unknown title, no model, deadline,
/// overload…) gets the logged default image with probability 1: the situation that forced the fallback would force
/// it under any policy. A "no profile" row was decided by the engine and is re-scored like any other.
/// </remarks>
public sealed class EnginePolicy : TargetPolicy
{
    /// <summary>File extension of a title model blob in a model directory.</summary>
    public const string ModelExtension = ".esm";

    private readonly IReadOnlyDictionary<uint, byte[]> _models;
    private readonly SelectionOptions _options;

    /// <summary>A policy over <paramref name="models"/> (title id → blob, each already checked) with <paramref name="options"/>.</summary>
    public EnginePolicy(IReadOnlyDictionary<uint, byte[]> models, SelectionOptions options)
    {
        _models = models;
        _options = options.Validate();
    }

    /// <inheritdoc />
    public override bool HasFullDistribution => true;

    /// <summary>Loads every <c>*.esm</c> blob of <paramref name="directory"/>, fully checked; one per title.</summary>
    public static EnginePolicy LoadDirectory(string directory, SelectionOptions options)
    {
        var models = new Dictionary<uint, byte[]>();
        foreach (var path in Directory.GetFiles(directory, "*" + ModelExtension).Order(StringComparer.Ordinal))
        {
            var blob = File.ReadAllBytes(path);
            if (!ModelView.TryOpen(blob, ModelCheck.Full, out var view, out var error))
            {
                throw new EvaluationInputException($"{path}: not a valid model blob ({error}).");
            }

            if (!models.TryAdd(view.TitleId, blob))
            {
                throw new EvaluationInputException($"{path}: a second model for title {view.TitleId}.");
            }
        }

        return models.Count > 0
            ? new EnginePolicy(models, options)
            : throw new EvaluationInputException($"{directory}: no *{ModelExtension} model blobs.");
    }

    /// <inheritdoc />
    public override IPolicyCursor Open() => new Cursor(this);

    private sealed class Cursor(EnginePolicy policy) : IPolicyCursor
    {
        private readonly SelectionEngine _engine = new(policy._options);
        private readonly float[] _pmf = new float[ModelFormat.MaxImages];
        private readonly ActionProbability[] _support = new ActionProbability[ModelFormat.MaxImages];
        private int _count;
        private int _candidates;

        public ReadOnlySpan<ActionProbability> Distribution => _support.AsSpan(0, _count);

        public void MoveTo(LoggedSample sample)
        {
            if (sample.Impression is not { } record)
            {
                throw new EvaluationInputException("An engine policy needs an impression log (--format impressions).");
            }

            if (record.CandidateCount == 0)
            {
                _candidates = sample.Action + 1;
                Array.Clear(_pmf, 0, _candidates);
                _pmf[sample.Action] = 1;
                _support[0] = new ActionProbability(sample.Action, 1);
                _count = 1;
                return;
            }

            if (!policy._models.TryGetValue(record.TitleId, out var blob))
            {
                throw new EvaluationInputException($"Row {sample.RowIndex}: no model for title {record.TitleId}.");
            }

            // Checked in full when loaded: the header check is enough here.
            _ = ModelView.TryOpen(blob, ModelCheck.Structure, out var view, out _);
            if (view.ImageCount != record.CandidateCount)
            {
                throw new EvaluationInputException(
                    $"Row {sample.RowIndex}: title {record.TitleId} was logged with {record.CandidateCount} candidates, its model has {view.ImageCount}.");
            }

            record.GetContexts(out var member, out var title);
            _ = _engine.Select(view, member, title, record.TimestampMs, _pmf);
            _candidates = view.ImageCount;
            _count = 0;
            for (var i = 0; i < _candidates; i++)
            {
                if (_pmf[i] > 0)
                {
                    _support[_count++] = new ActionProbability(i, _pmf[i]);
                }
            }
        }

        public double Probability(int action) => (uint)action < (uint)_candidates ? _pmf[action] : 0;

        public void Finish()
        {
        }

        public void Dispose()
        {
        }
    }
}
