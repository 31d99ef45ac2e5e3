using System.Collections.Frozen;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Storage.Models;

namespace EdgeSelector.Server.Rollout;

/// <summary>
/// A candidate bundle being tried: its verified models (held in memory, read in place like the store's), the member
/// split, and the counters of both arms. Immutable; a fraction change makes a new instance sharing the models and the
/// counters. The request path reads the one current instance with a single volatile read
/// (<see cref="RolloutService.Current"/>): no lock, no allocation.
/// </summary>
internal sealed class CandidateBundle
{
    public CandidateBundle(int id, BundleManifest manifest, byte[] bytes, FrozenDictionary<uint, byte[]> models, double fraction, long startedAtMs, RolloutCounters counters, bool fleet = false)
    {
        Fleet = fleet;
        Id = id;
        Manifest = manifest;
        Bytes = bytes;
        Models = models;
        Split = new ArmSplit(manifest.Version, fraction);
        StartedAtMs = startedAtMs;
        Counters = counters;
    }

    /// <summary>This node's number for the rollout (tags the events of <see cref="RecentEvents"/>).</summary>
    public int Id { get; }

    /// <summary>Published by the fleet's control plane, which decides it on the fleet's counts (this node's test only reports).</summary>
    public bool Fleet { get; }

    /// <summary>The candidate's manifest.</summary>
    public BundleManifest Manifest { get; }

    /// <summary>The candidate bundle's version.</summary>
    public ulong Version => Manifest.Version;

    /// <summary>A full bundle replaces every title; a partial one only the titles it carries (the others come from the active bundle).</summary>
    public bool Full => Manifest.Full;

    /// <summary>The signed bundle as pushed (persisted, re-verified on restart, applied on promotion).</summary>
    public byte[] Bytes { get; }

    /// <summary>Every model of the bundle, fully checked, by title.</summary>
    public FrozenDictionary<uint, byte[]> Models { get; }

    /// <summary>The sticky member split.</summary>
    public ArmSplit Split { get; }

    /// <summary>When the candidate was pushed (unix ms).</summary>
    public long StartedAtMs { get; }

    /// <summary>Impressions, fallbacks, rewards and takes per arm.</summary>
    public RolloutCounters Counters { get; }

    /// <summary>The same candidate with another fraction; the evidence so far is kept.</summary>
    public CandidateBundle WithFraction(double fraction) => new(Id, Manifest, Bytes, Models, fraction, StartedAtMs, Counters, Fleet);

    /// <summary>Scores the title's candidate model in place; false when the candidate has no model for it.</summary>
    public bool TryRead<TVisitor>(uint titleId, ref TVisitor visitor)
        where TVisitor : struct, IModelVisitor
    {
        if (!Models.TryGetValue(titleId, out var blob))
        {
            return false;
        }

        visitor.Visit(titleId, blob);
        return true;
    }
}

/// <summary>Per-arm counters of one rollout (striped: the request path adds to them from every core).</summary>
internal sealed class RolloutCounters
{
    private readonly StripedCounter[] _counters = [new(), new(), new(), new(), new(), new(), new(), new()];

    /// <summary>Titles served in the arm (model decisions and fallbacks).</summary>
    public StripedCounter Impressions(Arm arm) => _counters[(int)arm];

    /// <summary>Titles of the arm answered with the default image.</summary>
    public StripedCounter Fallbacks(Arm arm) => _counters[2 + (int)arm];

    /// <summary>Rewards joined to the arm in memory.</summary>
    public StripedCounter Rewards(Arm arm) => _counters[4 + (int)arm];

    /// <summary>Joined rewards that are takes (quality plays).</summary>
    public StripedCounter Takes(Arm arm) => _counters[6 + (int)arm];

    /// <summary>A moment's view of every counter.</summary>
    public ArmCounts Read(Arm arm) => new(Impressions(arm).Value, Fallbacks(arm).Value, Rewards(arm).Value, Takes(arm).Value);

    /// <summary>Restores persisted counts (after a restart).</summary>
    public void Restore(Arm arm, ArmCounts counts)
    {
        Impressions(arm).Add(counts.Impressions);
        Fallbacks(arm).Add(counts.Fallbacks);
        Rewards(arm).Add(counts.Rewards);
        Takes(arm).Add(counts.Takes);
    }
}
