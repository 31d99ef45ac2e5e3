using EdgeSelector.Core.Logging;

namespace EdgeSelector.Learning.Evaluation;

/// <summary>
/// One logged bandit row: context features, the action the logging policy took (at a display position), its
/// propensity and the observed reward. Readers fill one caller-owned instance per row, so streaming a large log
/// allocates nothing per row.
/// </summary>
public sealed class LoggedSample
{
    /// <summary>Creates a sample with room for <paramref name="featureCount"/> features.</summary>
    public LoggedSample(int featureCount) => Features = new float[featureCount];

    /// <summary>Zero-based index of the row in its source, stable across passes (cross-fitting folds use it).</summary>
    public long RowIndex { get; set; }

    /// <summary>The logged action (item id, or the candidate index for impression logs).</summary>
    public int Action { get; set; }

    /// <summary>
    /// Stratum whose actions share a meaning, keying the reward model's cells with the action and position: the title
    /// for impression logs (candidate index k is a different image in every title), 0 where actions are global.
    /// </summary>
    public long Group { get; set; }

    /// <summary>Display position of the action (1-based where the source has positions; 1 where it has none).</summary>
    public int Position { get; set; } = 1;

    /// <summary>Probability with which the logging policy took <see cref="Action"/> at <see cref="Position"/>.</summary>
    public double Propensity { get; set; }

    /// <summary>The observed reward.</summary>
    public double Reward { get; set; }

    /// <summary>
    /// The whole logged impression when the source is an impression log (null otherwise): what a policy that runs our
    /// own engine needs to rebuild the exact request (<see cref="ImpressionRecord.GetContexts"/>).
    /// </summary>
    public ImpressionRecord? Impression { get; set; }

    /// <summary>Numeric context features, in the order of the source's <see cref="ILoggedBanditSource.FeatureNames"/>.</summary>
    public float[] Features { get; }
}

/// <summary>A logged bandit dataset that can be read from the start any number of times (estimators make two passes).</summary>
public interface ILoggedBanditSource
{
    /// <summary>Names of the numeric context features each sample carries.</summary>
    IReadOnlyList<string> FeatureNames { get; }

    /// <summary>Opens a reader positioned at the first row.</summary>
    ILoggedSampleReader OpenReader();
}

/// <summary>A forward-only pass over a <see cref="ILoggedBanditSource"/>.</summary>
public interface ILoggedSampleReader : IDisposable
{
    /// <summary>Fills <paramref name="sample"/> with the next row; false at the end.</summary>
    bool TryRead(LoggedSample sample);
}

/// <summary>Bad evaluation input (file, column, value, policy): the message says what and where.</summary>
public sealed class EvaluationInputException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EvaluationInputException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public EvaluationInputException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public EvaluationInputException()
    {
    }
}
