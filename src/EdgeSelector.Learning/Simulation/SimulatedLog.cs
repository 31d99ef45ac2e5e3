using System.Globalization;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Logging;
using EdgeSelector.Learning.Evaluation;
using EdgeSelector.Learning.Evaluation.Data;
using EdgeSelector.Learning.Evaluation.Policies;
using EdgeSelector.Learning.Join;
using EdgeSelector.Learning.Logging;

namespace EdgeSelector.Learning.Simulation;

/// <summary>
/// An explore log drawn from a <see cref="SimulatedWorld"/> under a logging policy: impression records with exact
/// propensities and their reward records, held in memory (a 100,000-row log is ~16 MB) and writable as record files.
/// As an <see cref="ILoggedBanditSource"/> it reads exactly like an impression file (same features and groups).
/// </summary>
public sealed class SimulatedLog : ILoggedBanditSource
{
    /// <summary>Runtime of every simulated title, for minutes watched.</summary>
    public const float RuntimeMinutes = 100;

    /// <summary>A bounce (a play that is not a quality play) stops before this fraction of the title.</summary>
    public const float BounceFraction = 0.045f;

    private readonly ImpressionRecord[] _impressions;
    private readonly RewardRecord?[] _rewards;
    private readonly int[] _member;
    private readonly int[] _title;

    private SimulatedLog(SimulatedWorld world, int rows)
    {
        World = world;
        _impressions = new ImpressionRecord[rows];
        _rewards = new RewardRecord?[rows];
        _member = new int[rows];
        _title = new int[rows];
    }

    /// <summary>The world the log was drawn from.</summary>
    public SimulatedWorld World { get; }

    /// <summary>Which reward the evaluation reads (default: quality play).</summary>
    public ImpressionReward Reward { get; init; } = ImpressionReward.Quality;

    /// <summary>The quality-play rule the evaluation and the trainer use (default <see cref="QualityPlayRule.Default"/>).</summary>
    public QualityPlayRule Rule { get; init; } = QualityPlayRule.Default;

    /// <summary>Number of impressions.</summary>
    public int Count => _impressions.Length;

    /// <inheritdoc />
    public IReadOnlyList<string> FeatureNames => ImpressionLogSource.Names;

    /// <summary>
    /// Draws <paramref name="impressions"/> impressions: member uniform, title by popularity, image by the logging
    /// policy; <paramref name="rule"/> (default <see cref="QualityPlayRule.Default"/>) is the quality reward's rule.
    /// </summary>
    public static SimulatedLog Generate(SimulatedWorld world, PolicyTable logging, int impressions, int seed, QualityPlayRule? rule = null)
    {
        var log = new SimulatedLog(world, impressions) { Rule = rule ?? QualityPlayRule.Default };
        var random = new Random(seed);
        var kind = logging.Name == "uniform" ? PolicyKind.Uniform : PolicyKind.EpsilonGreedy;
        const long Start = 1_764_000_000_000;
        for (var row = 0; row < impressions; row++)
        {
            var m = random.Next(world.MemberCount);
            var t = world.SampleTitle(random.NextDouble());
            var pmf = logging.Pmf(m, t);
            var u = random.NextDouble();
            var i = 0;
            for (var cumulative = pmf[0]; u >= cumulative && i < pmf.Length - 1;)
            {
                cumulative += pmf[++i];
            }

            var eventId = (ulong)row + 1;
            var time = Start + (row * 1000L);
            log._member[row] = m;
            log._title[row] = t;
            log._impressions[row] = world.Record(eventId, time, m, t, i, pmf[i], kind);

            var quality = random.NextDouble() < world.QualityProbability(m, t, i);
            var bounce = world.Scenario.BaseBounce + (world.Titles[t].Images[i].Clickbait ? world.Scenario.ClickbaitBounce : 0);
            if (quality || random.NextDouble() < bounce)
            {
                // A quality play watches at least half the title (50-100 minutes); a bounce stops within the first
                // 4.5% (under 4.5 minutes): a quality play under any rule between those, the default included
                // (QualityPlayRule: 10 minutes or 25%), so the trainer and the evaluation read the world alike.
                var fraction = quality ? 0.5f + (0.5f * random.NextSingle()) : BounceFraction * random.NextSingle();
                log._rewards[row] = new RewardRecord
                {
                    EventId = eventId,
                    TimestampMs = time + 60_000,
                    PlayStarted = true,
                    FractionCompleted = fraction,
                    MinutesWatched = fraction * RuntimeMinutes,
                };
            }
        }

        return log;
    }

    /// <summary>Rows <paramref name="start"/> to <paramref name="start"/> + <paramref name="count"/> as a log of their own (row indices restart at 0).</summary>
    public SimulatedLog Slice(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + count, Count);
        var slice = new SimulatedLog(World, count) { Reward = Reward, Rule = Rule };
        Array.Copy(_impressions, start, slice._impressions, 0, count);
        Array.Copy(_rewards, start, slice._rewards, 0, count);
        Array.Copy(_member, start, slice._member, 0, count);
        Array.Copy(_title, start, slice._title, 0, count);
        return slice;
    }

    /// <summary>Row <paramref name="row"/>: (member index, title index, impression record, reward record or null).</summary>
    public (int Member, int Title, ImpressionRecord Impression, RewardRecord? Reward) Row(int row) =>
        (_member[row], _title[row], _impressions[row], _rewards[row]);

    /// <inheritdoc />
    public ILoggedSampleReader OpenReader() => new Reader(this);

    /// <summary>A named world policy as a target policy over this log's rows.</summary>
    public TargetPolicy Target(PolicyTable policy) => new TablePolicy(this, policy);

    /// <summary>Writes the log as one record file: each impression followed by its reward record, if any.</summary>
    public void Write(string path)
    {
        using var writer = new RecordFileWriter(path);
        for (var row = 0; row < _impressions.Length; row++)
        {
            writer.Append(_impressions[row]);
            if (_rewards[row] is { } reward)
            {
                writer.Append(reward);
            }
        }
    }

    /// <summary>Writes a per-row policy file (<c>p_0..p_{K-1}</c>, one line per impression) for <c>edgesel evaluate</c>.</summary>
    public void WritePolicy(string path, PolicyTable policy)
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine(string.Join(',', Enumerable.Range(0, World.MaxImages).Select(i => $"p_{i}")));
        var line = new string[World.MaxImages];
        for (var row = 0; row < _impressions.Length; row++)
        {
            var pmf = policy.Pmf(_member[row], _title[row]);
            for (var i = 0; i < line.Length; i++)
            {
                line[i] = i < pmf.Length ? pmf[i].ToString("R", CultureInfo.InvariantCulture) : "0";
            }

            writer.WriteLine(string.Join(',', line));
        }
    }

    private sealed class Reader(SimulatedLog log) : ILoggedSampleReader
    {
        private int _row;

        public bool TryRead(LoggedSample sample)
        {
            if (_row >= log._impressions.Length)
            {
                return false;
            }

            var reward = log._rewards[_row] is { } r ? ImpressionLogSource.RewardValue(r, log.Reward, log.Rule) : 0;
            ImpressionLogSource.Fill(log._impressions[_row], reward, sample);
            sample.RowIndex = _row++;
            return true;
        }

        public void Dispose()
        {
        }
    }

    private sealed class TablePolicy(SimulatedLog log, PolicyTable table) : TargetPolicy
    {
        public override bool HasFullDistribution => true;

        public override IPolicyCursor Open() => new Cursor(log, table);

        private sealed class Cursor(SimulatedLog log, PolicyTable table) : IPolicyCursor
        {
            private readonly ActionProbability[] _support = new ActionProbability[log.World.MaxImages];
            private int _count;
            private int _row;

            public ReadOnlySpan<ActionProbability> Distribution => _support.AsSpan(0, _count);

            public void MoveTo(LoggedSample sample)
            {
                _row = (int)sample.RowIndex;
                var pmf = table.Pmf(log._member[_row], log._title[_row]);
                _count = 0;
                for (var i = 0; i < pmf.Length; i++)
                {
                    if (pmf[i] > 0)
                    {
                        _support[_count++] = new ActionProbability(i, pmf[i]);
                    }
                }
            }

            public double Probability(int action)
            {
                var pmf = table.Pmf(log._member[_row], log._title[_row]);
                return (uint)action < (uint)pmf.Length ? pmf[action] : 0;
            }

            public void Finish()
            {
            }

            public void Dispose()
            {
            }
        }
    }
}
