using System.Diagnostics;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Core.Selection;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Storage.Impressions;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// The request path, for every front door: the overload policy first (<see cref="SheddingPolicy"/>: too old at
/// arrival → defaults without scoring), then the member context (request, else stored profile), one model snapshot
/// per request (a page sees one bundle), each title scored in place until the page deadline, the default image on
/// anything that fails, every impression logged, everything counted. Never throws to the caller and allocates
/// nothing per request (ServingAllocationTests counts the bytes, scored and shed).
/// </summary>
internal sealed class SelectionService(
    SelectionEngine engine,
    ModelStore models,
    ProfileStore profiles,
    DefaultImages defaults,
    EventIds eventIds,
    ImpressionLog? impressions,
    SheddingPolicy shedding,
    ServerMetrics metrics)
{
    /// <summary>Test-only: a title whose scoring throws (used only when <see cref="FaultInjection.IsEnabled"/>); 0 = off.</summary>
    public uint FaultInjectionTitleId { get; set; }

    /// <summary>Rollout (#15): the candidate bundle being tried, if any (set once by the composition).</summary>
    public Rollout.RolloutService? Rollout { get; set; }

    /// <summary>
    /// Decides an image for every title of <paramref name="titles"/> into <paramref name="results"/> (same length).
    /// <paramref name="arrivalTicks"/> is when the server read the request (Stopwatch ticks): its age at arrival
    /// decides whether it is shed.
    /// </summary>
    public void Select(in RequestContext request, ReadOnlySpan<TitleCandidate> titles, Span<SelectResult> results, long arrivalTicks)
    {
        var start = Stopwatch.GetTimestamp();
        var clientStamp = request.TimestampUnixMs;
        var nowUnixMs = clientStamp != 0 && !shedding.UsesClientTimestamp ? clientStamp : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var unixMs = clientStamp != 0 ? clientStamp : nowUnixMs;
        // Rollout (#15, Rollout/RolloutService.cs): read once per page, so the whole page is served and counted in one
        // arm; a member's arm is a sticky hash of its id (Core/Rollout/ArmSplit.cs). No lock, no allocation.
        var rollout = Rollout?.Current;
        var arm = rollout is null ? Arm.Control : rollout.Split.ArmOf(request.MemberId);
        var candidateBundle = arm == Arm.Candidate ? rollout : null;
        if (shedding.IsTooOld(start, arrivalTicks, clientStamp, nowUnixMs))
        {
            // Answered at once, without the profile read, the model snapshot or scoring: shedding must cost far
            // less than serving, or an overloaded node could never catch up.
            var context = ContextOnly(request);
            for (var i = 0; i < titles.Length; i++)
            {
                results[i] = Fallback(titles[i], FallbackReason.Overload, context, unixMs);
            }

            if (rollout is not null)
            {
                Rollout!.Record(rollout, arm, results[..titles.Length], unixMs);
            }

            return;
        }

        var deadline = shedding.PageDeadline(start);
        var member = BuildMember(request, out var withProfile);
        using var snapshot = models.AcquireSnapshot();
        for (var i = 0; i < titles.Length; i++)
        {
            var candidate = titles[i];
            if (i > 0 && Stopwatch.GetTimestamp() > deadline)
            {
                results[i] = Fallback(candidate, FallbackReason.Deadline, member, unixMs);
                continue;
            }

            var visitor = new ScoringVisitor
            {
                Engine = engine,
                Member = member,
                Title = Title(candidate),
                UnixMs = unixMs,
                FaultTitle = FaultInjection.IsEnabled ? FaultInjectionTitleId : 0,
            };
            bool found;
            try
            {
                // Rollout (#15): the candidate arm reads the candidate's model; a partial candidate falls through to the
                // active bundle for the titles it does not carry.
                found = candidateBundle is null
                    ? snapshot.TryRead(candidate.TitleId, ref visitor)
                    : candidateBundle.TryRead(candidate.TitleId, ref visitor) || (!candidateBundle.Full && snapshot.TryRead(candidate.TitleId, ref visitor));
            }
            catch (Exception)
            {
                results[i] = Fallback(candidate, FallbackReason.InternalError, member, unixMs);
                continue;
            }

            if (!found)
            {
                // A default known from an earlier bundle: a later bundle dropped the title's model.
                var reason = defaults.TryGet(candidate.TitleId, out _) ? FallbackReason.NoModel : FallbackReason.UnknownTitle;
                results[i] = Fallback(candidate, reason, member, unixMs);
                continue;
            }

            switch (visitor.Outcome)
            {
                case VisitOutcome.Decided:
                    // The model chose. Without a stored profile it chose from the request's context alone, and the
                    // reason says so (NoProfile); it is still the model's decision, not a fallback.
                    var eventId = eventIds.Next();
                    var reason = withProfile ? FallbackReason.None : FallbackReason.NoProfile;
                    var decision = visitor.Decision;
                    results[i] = new SelectResult(candidate.TitleId, decision.ImageId, eventId, decision.Propensity, decision.ModelVersion, reason);
                    Log(ImpressionRecord.FromDecision(eventId, unixMs, decision, visitor.CandidateCount, member, visitor.Title, reason));
                    metrics.Decided(withProfile);
                    break;
                case VisitOutcome.Corrupt:
                    results[i] = Fallback(candidate, FallbackReason.CorruptModel, member, unixMs);
                    break;
                default:
                    results[i] = Fallback(candidate, FallbackReason.InternalError, member, unixMs);
                    break;
            }
        }

        if (rollout is not null)
        {
            Rollout!.Record(rollout, arm, results[..titles.Length], unixMs); // rollout (#15): arm index and counts
        }
    }

    /// <summary>
    /// Scores every title of the active bundle once for a synthetic member, logging nothing, so the first real
    /// requests do not pay for JIT compilation or cold caches (a JIT build; the native binary has no JIT).
    /// </summary>
    public void WarmUp()
    {
        using var snapshot = models.AcquireSnapshot();
        var visitor = new ScoringVisitor { Engine = engine, UnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        foreach (var title in snapshot.TitleIds)
        {
            visitor.Title = new TitleContext { TitleId = title };
            snapshot.TryRead(title, ref visitor);
        }
    }

    private static TitleContext Title(in TitleCandidate candidate) =>
        new() { TitleId = candidate.TitleId, RecommenderScore = candidate.Score, Interacted = candidate.InteractedBefore };

    private static MemberContext ContextOnly(in RequestContext request)
    {
        var member = new MemberContext
        {
            MemberId = request.MemberId,
            Country = request.Country,
            Language = request.Language,
            Device = request.Device,
            LocalHour = request.HourOfDay,
            DayOfWeek = request.DayOfWeek,
        };
        if (request.GenreCount > 0)
        {
            request.GenreSpan.CopyTo(member.Genres);
        }

        return member;
    }

    private MemberContext BuildMember(in RequestContext request, out bool withProfile)
    {
        var member = ContextOnly(request);
        withProfile = true;
        if (request.GenreCount > 0)
        {
            return member;
        }

        MemberProfile profile;
        bool found;
        try
        {
            found = profiles.TryGet(request.MemberId, out profile);
        }
        catch (Exception)
        {
            found = false;
            profile = default;
        }

        if (!found)
        {
            // Context-only features: genres stay zero; the model still chooses, the reason says why it knew less.
            withProfile = false;
            return member;
        }

        member.Genres = profile.Genres;
        if (member.Country == 0)
        {
            member.Country = profile.Country;
        }

        if (member.Language == 0)
        {
            member.Language = profile.Language;
        }

        if (member.Device == DeviceClass.Unknown)
        {
            member.Device = profile.Device;
        }

        return member;
    }

    private SelectResult Fallback(in TitleCandidate candidate, FallbackReason reason, in MemberContext member, long unixMs)
    {
        var titleId = candidate.TitleId;
        var image = defaults.TryGet(titleId, out var known) ? known : SelectResult.NoArtwork;
        var eventId = eventIds.Next();
        var decision = new Decision { ImageId = image, Propensity = 1f, Policy = engine.Options.Policy, PolicyParameter = engine.Options.PolicyParameter };
        Log(ImpressionRecord.FromDecision(eventId, unixMs, decision, 0, member, Title(candidate), reason));
        metrics.Fallback(reason);
        return new SelectResult(titleId, image, eventId, 1f, 0, reason);
    }

    private void Log(in ImpressionRecord record)
    {
        if (impressions is null)
        {
            return;
        }

        Span<byte> buffer = stackalloc byte[ImpressionRecord.Size];
        record.Write(buffer);
        bool logged;
        try
        {
            logged = impressions.TryEnqueue(buffer, out _);
        }
        catch (Exception)
        {
            logged = false;
        }

        metrics.Impression(logged);
    }
}
