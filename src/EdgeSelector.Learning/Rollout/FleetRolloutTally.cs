using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Learning.Join;

namespace EdgeSelector.Learning.Rollout;

/// <summary>
/// The fleet-wide evidence of one candidate (docs/rollout.md, "Fleet"), kept by the control plane
/// (<c>edgesel train --nats</c>) across runs: the impressions every node shipped since the trial started, by arm (the
/// impression's <c>arm</c> byte) and bundle version, and the rewards joined to them by event id whichever node took
/// them, with takes counted by the quality-play rule. Rewards whose impression has not arrived yet wait for a later
/// run. Persisted in two files: the counts (JSON) and the trial's event index (binary, 17 bytes per impression).
/// </summary>
public sealed class FleetRolloutTally
{
    /// <summary>Impressions of a trial indexed for the reward join at most (beyond it, rewards to them count as unjoined).</summary>
    public const int MaxIndexedEvents = 8 << 20;

    /// <summary>Rewards kept waiting for their impression at most.</summary>
    public const int MaxPendingRewards = 1 << 20;

    private readonly Dictionary<ulong, (Arm Arm, ulong Version)> _events = [];
    private readonly List<RewardRecord> _pending = [];
    private TallyState _state = new();

    /// <summary>The candidate these counts are about (0: none).</summary>
    public ulong CandidateVersion => _state.CandidateVersion;

    /// <summary>When its trial started (unix ms); impressions before it are not counted.</summary>
    public long StartedAtMs => _state.StartedAtMs;

    /// <summary>Rewards whose impression is not in the trial's index (before the trial, or beyond the index's capacity).</summary>
    public long UnjoinedRewards => _state.UnjoinedRewards;

    /// <summary>Rewards waiting for their impression.</summary>
    public int PendingRewards => _pending.Count;

    /// <summary>Counts per (arm, bundle version), ordered by arm then version.</summary>
    public IReadOnlyList<TallyRow> Rows => _state.Rows;

    /// <summary>Loads the tally saved at <paramref name="path"/> (and its event index beside it), or an empty one.</summary>
    public static FleetRolloutTally Load(string path)
    {
        var tally = new FleetRolloutTally();
        if (!File.Exists(path))
        {
            return tally;
        }

        tally._state = JsonSerializer.Deserialize(File.ReadAllBytes(path), RolloutTallyJsonContext.Default.TallyState) ?? new TallyState();
        tally._pending.AddRange(tally._state.PendingRewards.Select(r => new RewardRecord
        {
            EventId = r.EventId,
            TimestampMs = r.TimestampMs,
            PlayStarted = r.PlayStarted,
            MinutesWatched = r.MinutesWatched,
            FractionCompleted = r.FractionCompleted,
        }));
        var index = IndexPath(path);
        if (File.Exists(index))
        {
            var bytes = File.ReadAllBytes(index);
            for (var at = 0; at + 17 <= bytes.Length; at += 17)
            {
                var span = bytes.AsSpan(at, 17);
                tally._events[BinaryPrimitives.ReadUInt64LittleEndian(span)] = ((Arm)span[16], BinaryPrimitives.ReadUInt64LittleEndian(span[8..]));
            }
        }

        return tally;
    }

    /// <summary>
    /// Makes the tally about <paramref name="candidateVersion"/>, started at <paramref name="startedAtMs"/>: when it was
    /// about another candidate (or none), the counts, the index and the waiting rewards start again.
    /// </summary>
    public void Track(ulong candidateVersion, ulong activeVersion, long startedAtMs)
    {
        if (_state.CandidateVersion == candidateVersion && _state.StartedAtMs == startedAtMs)
        {
            return;
        }

        _state = new TallyState { CandidateVersion = candidateVersion, ActiveVersion = activeVersion, StartedAtMs = startedAtMs };
        _events.Clear();
        _pending.Clear();
    }

    /// <summary>Counts an impression served since the trial started (the title under its arm and bundle version).</summary>
    public void AddImpression(in ImpressionRecord impression)
    {
        if (_state.CandidateVersion == 0 || impression.TimestampMs < _state.StartedAtMs)
        {
            return;
        }

        var arm = impression.Arm == (byte)Arm.Candidate ? Arm.Candidate : Arm.Control;
        var row = Row(arm, impression.ModelVersion);
        row.Impressions++;
        if (impression.Fallback is not (FallbackReason.None or FallbackReason.NoProfile))
        {
            row.Fallbacks++;
        }

        if (_events.Count < MaxIndexedEvents)
        {
            _events.TryAdd(impression.EventId, (arm, impression.ModelVersion));
        }
    }

    /// <summary>
    /// Joins a reward to its impression of the trial by event id and counts it (a take under <paramref name="rule"/>);
    /// a reward whose impression is not here yet waits for <see cref="RetryPending"/>.
    /// </summary>
    public void AddReward(in RewardRecord reward, QualityPlayRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (_state.CandidateVersion == 0)
        {
            return;
        }

        if (!TryCount(reward, rule))
        {
            if (_pending.Count < MaxPendingRewards && JoinedAfterStart(reward))
            {
                _pending.Add(reward);
            }
            else
            {
                _state.UnjoinedRewards++;
            }
        }
    }

    /// <summary>
    /// Joins the rewards that waited for their impression (call after the run's impressions were added); those still
    /// without one after <paramref name="maxWaitMs"/> (from their timestamp to <paramref name="nowMs"/>) count as unjoined.
    /// </summary>
    public void RetryPending(QualityPlayRule rule, long nowMs, long maxWaitMs)
    {
        var waiting = _pending.ToArray();
        _pending.Clear();
        foreach (var reward in waiting)
        {
            if (TryCount(reward, rule))
            {
                continue;
            }

            if (nowMs - reward.TimestampMs > maxWaitMs)
            {
                _state.UnjoinedRewards++;
            }
            else
            {
                _pending.Add(reward);
            }
        }
    }

    /// <summary>The counts of an arm, over every bundle version it was served from.</summary>
    public ArmCounts Counts(Arm arm)
    {
        var sum = default(ArmCounts);
        foreach (var row in _state.Rows)
        {
            if (row.Arm == Name(arm))
            {
                sum += new ArmCounts(row.Impressions, row.Fallbacks, row.Rewards, row.Takes);
            }
        }

        return sum;
    }

    /// <summary>Writes the counts to <paramref name="path"/> and the event index beside it (temp file, fsync, rename).</summary>
    public void Save(string path)
    {
        _state.PendingRewards = [.. _pending.Select(r => new PendingReward(r.EventId, r.TimestampMs, r.PlayStarted, r.MinutesWatched, r.FractionCompleted))];
        var index = new byte[_events.Count * 17];
        var at = 0;
        foreach (var (id, (arm, version)) in _events)
        {
            var span = index.AsSpan(at, 17);
            BinaryPrimitives.WriteUInt64LittleEndian(span, id);
            BinaryPrimitives.WriteUInt64LittleEndian(span[8..], version);
            span[16] = (byte)arm;
            at += 17;
        }

        WriteDurably(IndexPath(path), index);
        WriteDurably(path, JsonSerializer.SerializeToUtf8Bytes(_state, RolloutTallyJsonContext.Default.TallyState));
    }

    /// <summary>The arm's name in reports (<c>control</c>, <c>candidate</c>).</summary>
    public static string Name(Arm arm) => arm == Arm.Candidate ? "candidate" : "control";

    private bool TryCount(in RewardRecord reward, QualityPlayRule rule)
    {
        if (!_events.TryGetValue(reward.EventId, out var served))
        {
            return false;
        }

        var row = Row(served.Arm, served.Version);
        row.Rewards++;
        if (rule.IsQuality(reward))
        {
            row.Takes++;
        }

        return true;
    }

    // A reward taken before the trial started cannot be for one of its impressions.
    private bool JoinedAfterStart(in RewardRecord reward) => reward.TimestampMs >= _state.StartedAtMs;

    private TallyRow Row(Arm arm, ulong version)
    {
        var name = Name(arm);
        foreach (var row in _state.Rows)
        {
            if (row.Arm == name && row.BundleVersion == version)
            {
                return row;
            }
        }

        var added = new TallyRow { Arm = name, BundleVersion = version };
        _state.Rows.Add(added);
        _state.Rows.Sort((a, b) => a.Arm != b.Arm ? string.CompareOrdinal(b.Arm, a.Arm) : a.BundleVersion.CompareTo(b.BundleVersion));
        return added;
    }

    private static string IndexPath(string path) => Path.ChangeExtension(path, ".events.bin");

    private static void WriteDurably(string path, byte[] bytes)
    {
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }
}

/// <summary>The fleet-wide counts of one arm served from one bundle version.</summary>
public sealed class TallyRow
{
    /// <summary><c>control</c> or <c>candidate</c>.</summary>
    public string Arm { get; set; } = string.Empty;

    /// <summary>The bundle version that scored the titles (0: none, a fallback).</summary>
    public ulong BundleVersion { get; set; }

    /// <summary>Titles served.</summary>
    public long Impressions { get; set; }

    /// <summary>Of which default images.</summary>
    public long Fallbacks { get; set; }

    /// <summary>Rewards joined.</summary>
    public long Rewards { get; set; }

    /// <summary>Of which takes.</summary>
    public long Takes { get; set; }
}

/// <summary>The tally as persisted.</summary>
public sealed class TallyState
{
    /// <summary>The candidate counted.</summary>
    public ulong CandidateVersion { get; set; }

    /// <summary>The active version it was tried against.</summary>
    public ulong ActiveVersion { get; set; }

    /// <summary>When the trial started (unix ms).</summary>
    public long StartedAtMs { get; set; }

    /// <summary>Counts per arm and bundle version.</summary>
    public List<TallyRow> Rows { get; set; } = [];

    /// <summary>Rewards that found no impression of the trial.</summary>
    public long UnjoinedRewards { get; set; }

    /// <summary>Rewards waiting for their impression.</summary>
    public List<PendingReward> PendingRewards { get; set; } = [];
}

/// <summary>A reward waiting for its impression, as persisted.</summary>
public sealed record PendingReward(ulong EventId, long TimestampMs, bool PlayStarted, float MinutesWatched, float FractionCompleted);

/// <summary>Source-generated JSON of the fleet's rollout tally (native AOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(TallyState))]
public sealed partial class RolloutTallyJsonContext : JsonSerializerContext;
