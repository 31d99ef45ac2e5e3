using System.Text.Json;
using EdgeSelector.Core.Features;
using EdgeSelector.Fleet;
using EdgeSelector.Fleet.Bundles;
using EdgeSelector.Server.Admin;
using EdgeSelector.Server.Rollout;
using EdgeSelector.Server.Serving;
using EdgeSelector.Storage.Profiles;

namespace EdgeSelector.Server.Fleet;

/// <summary>What the fleet's followers do with what they receive: the same code paths as the admin API.</summary>
internal static class FleetAppliers
{
    /// <summary>
    /// Applies a downloaded bundle through <see cref="BundleService"/> (signature, every model, generation swap). The
    /// pointer is the fleet's truth, so an older version is applied too (a rollback is a re-point). A bundle the disk
    /// could not make durable in time (<see cref="BundleResultKind.Pending"/>, <see cref="BundleResultKind.Unavailable"/>) is not a refusal: the applier throws
    /// <see cref="FleetException"/>, so the follower stays not caught up (readiness says why) and handles the pointer
    /// again a second later; by then the pending write has taken effect (answered "already applied") or is retried.
    /// </summary>
    /// <exception cref="FleetException">The store could not make the bundle durable now (disk full or failing).</exception>
    public static async Task<BundleApplyResult> ApplyBundleAsync(BundleService bundles, BundlePointer pointer, byte[] bytes)
    {
        var outcome = await bundles.ApplyAsync(bytes, force: true).ConfigureAwait(false);
        if (outcome.Ok)
        {
            return new BundleApplyResult(true, "applied", outcome.Message);
        }

        if (outcome.Kind is BundleResultKind.Unavailable or BundleResultKind.Pending)
        {
            throw new FleetException($"bundle {pointer.Version} not durable yet, will retry: {outcome.Message}");
        }

        var reason = outcome.Kind switch
        {
            BundleResultKind.Unauthenticated => "signature",
            BundleResultKind.NotNewer => "version",
            BundleResultKind.Invalid => "model",
            _ => "refused",
        };
        return new BundleApplyResult(false, reason, $"object {pointer.Object}: {outcome.Message}");
    }

    /// <summary>
    /// Applies a value of the fleet's candidate pointer through the rollout service (docs/rollout.md, "Fleet"): a
    /// running candidate with its bytes is started as a fleet candidate (the checks of <c>PUT /v1/rollout/candidate</c>;
    /// this node's test then only reports), a running one already tried gets the pointer's fraction, a decision is
    /// applied to the candidate this node tries. Returns null, or why this node refused.
    /// </summary>
    public static async Task<string?> ApplyCandidateAsync(RolloutService rollout, CandidatePointer pointer, byte[]? bytes)
    {
        var tried = rollout.Current;
        switch (pointer.State)
        {
            case CandidatePointer.Running when bytes is not null:
                var started = await rollout.StartAsync(bytes, pointer.Fraction, "fleet", fleet: true).ConfigureAwait(false);
                return started.Success ? null : started.Message;
            case CandidatePointer.Running:
                if (tried is not null && tried.Version == pointer.Version && tried.Split.Fraction != pointer.Fraction)
                {
                    var resized = await rollout.SetFractionAsync(pointer.Fraction, "fleet").ConfigureAwait(false);
                    return resized.Success ? null : resized.Message;
                }

                return null;
            default:
                if (tried is null || tried.Version != pointer.Version)
                {
                    return null; // not tried here (joined later, or already ended): the bundle pointer brings a promotion
                }

                var decided = await rollout.FleetDecisionAsync(pointer.Version, pointer.State == CandidatePointer.Promoted, $"fleet: {pointer.Reason}").ConfigureAwait(false);
                return decided.Success ? null : decided.Message;
        }
    }

    /// <summary>Parses a profile batch (the body of PUT /v1/profiles) and upserts it; the error names the first bad profile.</summary>
    public static string? ApplyProfiles(ProfileStore store, ReadOnlySpan<byte> json, out int count)
    {
        count = 0;
        ProfileBatch? batch;
        try
        {
            batch = JsonSerializer.Deserialize(json, AdminJsonContext.Default.ProfileBatch);
        }
        catch (JsonException e)
        {
            return $"not a profile batch: {e.Message}";
        }

        if (batch is null)
        {
            return "not a profile batch: null";
        }

        var ids = new ulong[batch.Profiles.Count];
        var profiles = new MemberProfile[batch.Profiles.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            if (!AdminConversions.TryProfile(batch.Profiles[i], out ids[i], out profiles[i], out var error))
            {
                return $"profile {i}: {error}";
            }
        }

        store.UpsertMany(ids, profiles);
        count = ids.Length;
        return null;
    }
}
