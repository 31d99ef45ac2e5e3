using System.Diagnostics;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Selection;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Metrics;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// The request path: member context (request, else stored profile), one model snapshot per request (a page sees
/// one bundle), score each title in place, fall back to the default image on anything that fails, log every
/// impression, count everything. Never throws to the caller and allocates nothing per request
/// (SelectionServiceTests count the bytes).
/// </summary>
internal sealed class SelectionService
{
    private readonly ServerState _state;
    private readonly long _deadlineTicks;

    public SelectionService(ServerState state)
    {
        _state = state;
        _deadlineTicks = (long)(state.Options.DeadlineMs * Stopwatch.Frequency / 1000.0);
    }

    /// <summary>
    /// Decides an image for every title of <paramref name="titles"/> into <paramref name="results"/> (same length).
    /// <paramref name="shed"/> answers every title with its default image and reason "overload" without scoring.
    /// </summary>
    public void Select(in RequestContext request, ReadOnlySpan<TitleCandidate> titles, Span<SelectResult> results, bool shed = false)
    {
        var start = Stopwatch.GetTimestamp();
        var unixMs = request.TimestampUnixMs != 0 ? request.TimestampUnixMs : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var member = BuildMember(request, out var noProfile);
        var engine = _state.Engine;
        using var snapshot = _state.Models.AcquireSnapshot();
        for (var i = 0; i < titles.Length; i++)
        {
            var candidate = titles[i];
            var title = new TitleContext { TitleId = candidate.TitleId, RecommenderScore = candidate.Score, Interacted = candidate.InteractedBefore };
            if (shed)
            {
                results[i] = Fallback(candidate.TitleId, FallbackReason.Overload, member, title, unixMs);
                continue;
            }

            if (i > 0 && Stopwatch.GetTimestamp() - start > _deadlineTicks)
            {
                results[i] = Fallback(candidate.TitleId, FallbackReason.Deadline, member, title, unixMs);
                continue;
            }

            var visitor = new ScoringVisitor
            {
                Engine = engine,
                Member = member,
                Title = title,
                UnixMs = unixMs,
                FaultTitle = _state.FaultInjectionTitleId,
            };
            bool found;
            try
            {
                found = snapshot.TryRead(candidate.TitleId, ref visitor);
            }
            catch (Exception)
            {
                results[i] = Fallback(candidate.TitleId, FallbackReason.InternalError, member, title, unixMs);
                continue;
            }

            if (!found)
            {
                var reason = _state.Defaults.TryGet(candidate.TitleId, out _) ? FallbackReason.NoModel : FallbackReason.UnknownTitle;
                results[i] = Fallback(candidate.TitleId, reason, member, title, unixMs);
                continue;
            }

            switch (visitor.Outcome)
            {
                case VisitOutcome.Decided:
                    var eventId = _state.EventIds.Next();
                    var decided = noProfile ? FallbackReason.NoProfile : FallbackReason.None;
                    results[i] = new SelectResult(candidate.TitleId, visitor.Decision.ImageId, eventId, visitor.Decision.Propensity, visitor.Decision.ModelVersion, decided);
                    Log(ImpressionRecord.FromDecision(eventId, unixMs, visitor.Decision, visitor.CandidateCount, member, title, decided));
                    _state.Metrics.Selection(decided);
                    break;
                case VisitOutcome.Corrupt:
                    results[i] = Fallback(candidate.TitleId, FallbackReason.CorruptModel, member, title, unixMs);
                    break;
                default:
                    results[i] = Fallback(candidate.TitleId, FallbackReason.InternalError, member, title, unixMs);
                    break;
            }
        }
    }

    /// <summary>
    /// Scores every title of the active bundle once for a synthetic member, logging nothing, so the first real
    /// requests do not pay for JIT compilation or cold caches (a JIT build; the native binary has no JIT).
    /// </summary>
    public void WarmUp()
    {
        using var snapshot = _state.Models.AcquireSnapshot();
        var visitor = new ScoringVisitor { Engine = _state.Engine, UnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        foreach (var title in snapshot.TitleIds)
        {
            visitor.Title = new TitleContext { TitleId = title };
            snapshot.TryRead(title, ref visitor);
        }
    }

    private MemberContext BuildMember(in RequestContext request, out bool noProfile)
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
        noProfile = false;
        if (request.GenreCount > 0)
        {
            request.GenreSpan.CopyTo(member.Genres);
            return member;
        }

        MemberProfile profile;
        bool found;
        try
        {
            found = _state.Profiles.TryGet(request.MemberId, out profile);
        }
        catch (Exception)
        {
            found = false;
            profile = default;
        }

        if (!found)
        {
            // Context-only features: genres stay zero; the model still chooses, the reason says why it knew less.
            noProfile = true;
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

    private SelectResult Fallback(uint titleId, FallbackReason reason, in MemberContext member, in TitleContext title, long unixMs)
    {
        var image = _state.Defaults.TryGet(titleId, out var known) ? known : SelectResult.NoArtwork;
        var eventId = _state.EventIds.Next();
        var decision = new Decision { ImageId = image, Propensity = 1f, Policy = _state.Engine.Options.Policy, PolicyParameter = _state.Engine.Options.PolicyParameter };
        Log(ImpressionRecord.FromDecision(eventId, unixMs, decision, 0, member, title, reason));
        _state.Metrics.Selection(reason);
        return new SelectResult(titleId, image, eventId, 1f, 0, reason);
    }

    private void Log(in ImpressionRecord record)
    {
        var log = _state.Impressions;
        if (log is null)
        {
            return;
        }

        Span<byte> buffer = stackalloc byte[ImpressionRecord.Size];
        record.Write(buffer);
        bool logged;
        try
        {
            logged = log.TryEnqueue(buffer, out _);
        }
        catch (Exception)
        {
            logged = false;
        }

        _state.Metrics.Impression(logged);
    }
}
