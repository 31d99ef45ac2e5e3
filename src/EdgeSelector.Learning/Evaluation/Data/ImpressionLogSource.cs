using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Learning.Logging;

namespace EdgeSelector.Learning.Evaluation.Data;

/// <summary>Which number a joined reward contributes as the bandit reward.</summary>
public enum ImpressionReward
{
    /// <summary>1 when a play started, else 0.</summary>
    Play,
    /// <summary>Minutes watched (0 without a reward record).</summary>
    Minutes,
    /// <summary>Fraction of the title completed (0 without a reward record).</summary>
    Fraction,
    /// <summary>1 for a quality play: fraction completed at least <see cref="ImpressionLogSource.QualityPlayFraction"/>.</summary>
    Quality,
}

/// <summary>
/// The project's impression logs (record files of impression entries: page entries, or the per-title records of older
/// logs; docs/impression-log.md) joined with their rewards by event id. Every title of a page is one sample. The action
/// is the chosen candidate index, the group (reward-model stratum) the title, the position 1; an impression without a
/// reward record has reward 0. Features: recommender score, interacted-before and the 16 genre
/// affinities.
/// </summary>
/// <remarks>
/// Rewards are held in a dictionary keyed by event id (memory grows with the number of reward records, not
/// impressions: rewards are sparse); impressions stream. Reward records may sit in the impression file itself, in a
/// separate rewards file, or both; several rewards for one event combine (play = any, minutes summed, fraction = max).
/// </remarks>
public sealed class ImpressionLogSource : ILoggedBanditSource
{
    /// <summary>A play that reaches this fraction of the title counts as a quality play.</summary>
    public const float QualityPlayFraction = 0.5f;

    /// <summary>Names of the features <see cref="Fill"/> writes.</summary>
    public static readonly IReadOnlyList<string> Names = BuildNames();

    private readonly string _impressionsPath;
    private readonly Dictionary<ulong, RewardRecord> _rewards = [];
    private readonly ImpressionReward _reward;

    /// <summary>Opens the impression file and loads rewards from it and from <paramref name="rewardsPath"/>, if given.</summary>
    public ImpressionLogSource(string impressionsPath, string? rewardsPath, ImpressionReward reward)
    {
        _impressionsPath = impressionsPath;
        _reward = reward;
        LoadRewards(impressionsPath);
        if (rewardsPath is not null)
        {
            LoadRewards(rewardsPath);
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<string> FeatureNames => Names;

    /// <summary>The reward of kind <paramref name="kind"/> that a (combined) reward record stands for.</summary>
    public static double RewardValue(in RewardRecord reward, ImpressionReward kind) => kind switch
    {
        ImpressionReward.Play => reward.PlayStarted ? 1 : 0,
        ImpressionReward.Minutes => reward.MinutesWatched,
        ImpressionReward.Fraction => reward.FractionCompleted,
        _ => reward.PlayStarted && reward.FractionCompleted >= QualityPlayFraction ? 1 : 0,
    };

    /// <summary>Fills <paramref name="sample"/> (all but <see cref="LoggedSample.RowIndex"/>) from an impression and its reward.</summary>
    public static void Fill(in ImpressionRecord record, double reward, LoggedSample sample)
    {
        sample.Action = record.ChosenIndex;
        sample.Group = record.TitleId;
        sample.Position = 1;
        sample.Propensity = record.Propensity;
        sample.Reward = reward;
        sample.Impression = record;
        var features = sample.Features;
        features[0] = record.RecommenderScore;
        features[1] = record.InteractedBefore;
        for (var i = 0; i < MemberProfile.GenreCount; i++)
        {
            features[2 + i] = record.Genres[i];
        }
    }

    /// <summary>Number of distinct events that have a reward.</summary>
    public int RewardedEvents => _rewards.Count;

    /// <inheritdoc />
    public ILoggedSampleReader OpenReader() => new Reader(this, OpenFile(_impressionsPath));

    private static string[] BuildNames() =>
        ["recommender_score", "interacted_before", .. Enumerable.Range(0, MemberProfile.GenreCount).Select(i => $"genre_{i}")];

    private static RecordFileReader OpenFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new EvaluationInputException($"{path}: file not found.");
        }

        try
        {
            return new RecordFileReader(path);
        }
        catch (InvalidDataException e)
        {
            throw new EvaluationInputException($"{path}: {e.Message}", e);
        }
    }

    private void LoadRewards(string path)
    {
        using var file = OpenFile(path);
        try
        {
            while (file.TryRead(out var payload))
            {
                if (!RewardRecord.TryRead(payload, out var reward))
                {
                    continue;
                }

                if (_rewards.TryGetValue(reward.EventId, out var seen))
                {
                    reward.PlayStarted |= seen.PlayStarted;
                    reward.MinutesWatched += seen.MinutesWatched;
                    reward.FractionCompleted = Math.Max(reward.FractionCompleted, seen.FractionCompleted);
                }

                _rewards[reward.EventId] = reward;
            }
        }
        catch (InvalidDataException e)
        {
            throw new EvaluationInputException($"{path}: {e.Message}", e);
        }
    }

    private double RewardOf(ulong eventId)
    {
        if (!_rewards.TryGetValue(eventId, out var r))
        {
            return 0;
        }

        return RewardValue(r, _reward);
    }

    private sealed class Reader(ImpressionLogSource source, RecordFileReader file) : ILoggedSampleReader
    {
        // The titles of the current page entry not yet returned (a page yields one sample per title).
        private readonly Queue<ImpressionRecord> _page = new();
        private long _row;

        public bool TryRead(LoggedSample sample)
        {
            try
            {
                ImpressionRecord record;
                while (!_page.TryDequeue(out record))
                {
                    if (!file.TryRead(out var payload))
                    {
                        return false;
                    }

                    if (LogRecord.PeekKind(payload) == LogRecordKind.Reward)
                    {
                        continue;
                    }

                    if (!ImpressionEntry.TryRead(payload, out var entry))
                    {
                        throw new EvaluationInputException(
                            $"{source._impressionsPath}: record {file.Count - 1} is neither an impression (a version-{ImpressionPage.Version} page entry or a version-{ImpressionRecord.RecordVersion} per-title record) nor a reward.");
                    }

                    foreach (var impression in entry)
                    {
                        _page.Enqueue(impression);
                    }
                }

                sample.RowIndex = _row++;
                Fill(record, source.RewardOf(record.EventId), sample);
                return true;
            }
            catch (InvalidDataException e)
            {
                throw new EvaluationInputException($"{source._impressionsPath}: {e.Message}", e);
            }
        }

        public void Dispose() => file.Dispose();
    }
}
