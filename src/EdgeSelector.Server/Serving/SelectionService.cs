using System.Buffers;
using System.Diagnostics;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Security;
using EdgeSelector.Core.Selection;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Storage.Impressions;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// The request path, for every front door: the overload policy first (<see cref="SheddingPolicy"/>: too old at
/// arrival → defaults without scoring), then the member context (request, else stored profile), the page's event
/// ids reserved together, one model snapshot per request (a page sees one bundle), each title scored in place until
/// the page deadline, the default image on anything that fails, every result tagged (<see cref="EventTagger"/>), the
/// page logged as one entry (docs/impression-log.md), everything counted. Never throws to the caller and allocates
/// nothing per request (ServingAllocationTests and SelectionAllocationTests count the bytes, scored, shed and paged).
/// </summary>
internal sealed class SelectionService
{
    // A page entry up to this size (99 titles) is built on the stack; a bigger one in a pooled buffer.
    private const int MaxStackEntryBytes = 4096;

    private readonly SelectionEngine _engine;
    private readonly ModelStore _models;
    private readonly ProfileStore _profiles;
    private readonly DefaultImages _defaults;
    private readonly EventIds _eventIds;
    private readonly EventTagger _tags;
    private readonly ImpressionLog? _impressions;
    private readonly SheddingPolicy _shedding;
    private readonly ServerMetrics _metrics;

    /// <summary>Composes the request path; refuses a page limit whose log entry the impression log could not take.</summary>
    /// <exception cref="ArgumentException"><paramref name="maxTitlesPerPage"/> titles would not fit one log entry.</exception>
    public SelectionService(
        SelectionEngine engine,
        ModelStore models,
        ProfileStore profiles,
        DefaultImages defaults,
        EventIds eventIds,
        EventTagger tags,
        ImpressionLog? impressions,
        SheddingPolicy shedding,
        ServerMetrics metrics,
        int maxTitlesPerPage)
    {
        if (impressions is not null && ImpressionPage.SizeOf(maxTitlesPerPage) > impressions.MaxRecordBytes)
        {
            throw new ArgumentException($"EdgeSelector:MaxTitlesPerPage {maxTitlesPerPage}: a page's impression entry would exceed the log's {impressions.MaxRecordBytes}-byte entry limit");
        }

        _engine = engine;
        _models = models;
        _profiles = profiles;
        _defaults = defaults;
        _eventIds = eventIds;
        _tags = tags;
        _impressions = impressions;
        _shedding = shedding;
        _metrics = metrics;
    }

    /// <summary>Test-only: a title whose scoring throws (used only when <see cref="FaultInjection.IsEnabled"/>); 0 = off.</summary>
    public uint FaultInjectionTitleId { get; set; }

    /// <summary>
    /// Decides an image for every title of <paramref name="titles"/> into <paramref name="results"/> (same length).
    /// <paramref name="arrivalTicks"/> is when the server read the request (Stopwatch ticks): its age at arrival
    /// decides whether it is shed. The page's event ids are reserved together (title i gets the first + i) and the
    /// page is logged as one entry, whatever each title's outcome.
    /// </summary>
    public void Select(in RequestContext request, ReadOnlySpan<TitleCandidate> titles, Span<SelectResult> results, long arrivalTicks)
    {
        if (titles.IsEmpty)
        {
            return; // nothing to decide: no ids reserved, nothing logged (a page entry holds at least one title)
        }

        var start = Stopwatch.GetTimestamp();
        var clientStamp = request.TimestampUnixMs;
        var nowUnixMs = clientStamp != 0 && !_shedding.UsesClientTimestamp ? clientStamp : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var unixMs = clientStamp != 0 ? clientStamp : nowUnixMs;

        // Shed: answered at once, without the profile read, the model snapshot or scoring: shedding must cost far less
        // than serving, or an overloaded node could never catch up. The page is still logged (reason overload).
        var shed = _shedding.IsTooOld(start, arrivalTicks, clientStamp, nowUnixMs);
        MemberFlags memberFlags;
        var member = shed ? ContextOnly(request, out memberFlags) : BuildMember(request, out memberFlags);
        var firstEventId = _eventIds.Reserve(titles.Length);
        var log = _impressions;
        var size = ImpressionPage.SizeOf(titles.Length);
        byte[]? rented = null;
        Span<byte> entry = log is null ? default
            : size <= MaxStackEntryBytes ? stackalloc byte[size]
            : (rented = ArrayPool<byte>.Shared.Rent(size));
        var page = log is null ? default : new ImpressionPageWriter(entry, titles.Length, firstEventId, unixMs, member, memberFlags);
        try
        {
            if (shed)
            {
                for (var i = 0; i < titles.Length; i++)
                {
                    results[i] = Fallback(firstEventId + (ulong)i, FallbackReason.Overload, Title(titles[i]), page, i, log is not null);
                }
            }
            else
            {
                Decide(member, memberFlags, titles, results, firstEventId, unixMs, _shedding.PageDeadline(start), page, log is not null);
            }

            if (log is not null)
            {
                Log(log, page.Entry, titles.Length);
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// Scores every title of the active bundle once for a synthetic member, logging nothing, so the first real
    /// requests do not pay for JIT compilation or cold caches (a JIT build; the native binary has no JIT).
    /// </summary>
    public void WarmUp()
    {
        using var snapshot = _models.AcquireSnapshot();
        var visitor = new ScoringVisitor { Engine = _engine, UnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        foreach (var title in snapshot.TitleIds)
        {
            visitor.Title = new TitleContext { TitleId = title };
            snapshot.TryRead(title, ref visitor);
        }
    }

    private void Decide(
        in MemberContext member,
        MemberFlags memberFlags,
        ReadOnlySpan<TitleCandidate> titles,
        Span<SelectResult> results,
        ulong firstEventId,
        long unixMs,
        long deadline,
        ImpressionPageWriter page,
        bool logging)
    {
        var withProfile = memberFlags != MemberFlags.None;
        using var snapshot = _models.AcquireSnapshot();
        for (var i = 0; i < titles.Length; i++)
        {
            var candidate = titles[i];
            var eventId = firstEventId + (ulong)i;
            var title = Title(candidate);
            if (i > 0 && Stopwatch.GetTimestamp() > deadline)
            {
                results[i] = Fallback(eventId, FallbackReason.Deadline, title, page, i, logging);
                continue;
            }

            var visitor = new ScoringVisitor
            {
                Engine = _engine,
                Member = member,
                Title = title,
                UnixMs = unixMs,
                FaultTitle = FaultInjection.IsEnabled ? FaultInjectionTitleId : 0,
            };
            bool found;
            try
            {
                found = snapshot.TryRead(candidate.TitleId, ref visitor);
            }
            catch (Exception)
            {
                results[i] = Fallback(eventId, FallbackReason.InternalError, title, page, i, logging);
                continue;
            }

            if (!found)
            {
                // A default known from an earlier bundle: a later bundle dropped the title's model.
                var missing = _defaults.TryGet(candidate.TitleId, out _) ? FallbackReason.NoModel : FallbackReason.UnknownTitle;
                results[i] = Fallback(eventId, missing, title, page, i, logging);
                continue;
            }

            switch (visitor.Outcome)
            {
                case VisitOutcome.Decided:
                    // The model chose. Without a stored profile it chose from the request's context alone, and the
                    // reason says so (NoProfile); it is still the model's decision, not a fallback.
                    var reason = withProfile ? FallbackReason.None : FallbackReason.NoProfile;
                    var decision = visitor.Decision;
                    results[i] = new SelectResult(candidate.TitleId, decision.ImageId, eventId, decision.Propensity, decision.ModelVersion, reason, _tags.Tag(eventId));
                    if (logging)
                    {
                        page.SetTitle(i, TitleDecision.From(decision, visitor.CandidateCount, title, reason));
                    }

                    _metrics.Decided(withProfile);
                    break;
                case VisitOutcome.Corrupt:
                    results[i] = Fallback(eventId, FallbackReason.CorruptModel, title, page, i, logging);
                    break;
                default:
                    results[i] = Fallback(eventId, FallbackReason.InternalError, title, page, i, logging);
                    break;
            }
        }
    }

    private static TitleContext Title(in TitleCandidate candidate) =>
        new() { TitleId = candidate.TitleId, RecommenderScore = candidate.Score, Interacted = candidate.InteractedBefore };

    // The request's own context; the profile is not read. The genres are the request's when it carried them.
    private static MemberContext ContextOnly(in RequestContext request, out MemberFlags flags)
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
        flags = MemberFlags.None;
        if (request.GenreCount > 0)
        {
            request.GenreSpan.CopyTo(member.Genres);
            flags = MemberFlags.GenresFromRequest;
        }

        return member;
    }

    private MemberContext BuildMember(in RequestContext request, out MemberFlags flags)
    {
        var member = ContextOnly(request, out flags);
        if (flags == MemberFlags.GenresFromRequest)
        {
            return member;
        }

        MemberProfile profile;
        bool found;
        try
        {
            found = _profiles.TryGet(request.MemberId, out profile);
        }
        catch (Exception)
        {
            found = false;
            profile = default;
        }

        if (!found)
        {
            // Context-only features: genres stay zero; the model still chooses, the reason says why it knew less.
            return member;
        }

        flags = MemberFlags.ProfileFound;
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

    private SelectResult Fallback(ulong eventId, FallbackReason reason, in TitleContext title, ImpressionPageWriter page, int index, bool logging)
    {
        var image = _defaults.TryGet(title.TitleId, out var known) ? known : SelectResult.NoArtwork;
        if (logging)
        {
            var decision = new Decision { ImageId = image, Propensity = 1f, Policy = _engine.Options.Policy, PolicyParameter = _engine.Options.PolicyParameter };
            page.SetTitle(index, TitleDecision.From(decision, 0, title, reason));
        }

        _metrics.Fallback(reason);
        return new SelectResult(title.TitleId, image, eventId, 1f, 0, reason, _tags.Tag(eventId));
    }

    // One append per page; a log that cannot take it (memory full: the disk is behind, or failed) drops the page and
    // counts its titles as dropped: selections are answered either way.
    private void Log(ImpressionLog log, ReadOnlySpan<byte> entry, int titles)
    {
        bool logged;
        try
        {
            logged = log.TryEnqueue(entry, out _);
        }
        catch (Exception)
        {
            logged = false;
        }

        _metrics.Impression(logged, titles);
    }
}
