using System.Buffers;
using System.Diagnostics;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Core.Security;
using EdgeSelector.Core.Selection;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Storage.Impressions;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// The request path, for every front door, per connection batch (<see cref="ServingSession"/>): the overload policy
/// first (<see cref="SheddingPolicy"/>: too old at arrival → defaults without scoring), then the member context
/// (request, else the stored profile through the session's profile-store session), the page's event ids reserved
/// together, each title scored in place from the model generation the session pinned for its batch (a page sees one
/// bundle; the epoch is held across the batch) until the page deadline, the default image on anything that fails,
/// every result tagged (<see cref="EventTagger"/>), the page logged as one entry (docs/impression-log.md), everything
/// counted in the session's counters (folded into <see cref="ServerMetrics"/> once per batch). Never throws to the
/// caller and allocates nothing per request (ServingAllocationTests and SelectionAllocationTests count the bytes,
/// scored, shed and paged).
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

    /// <summary>The model store (serving sessions open their own reader on it).</summary>
    public ModelStore Models => _models;

    /// <summary>The profile store (serving sessions open their own reader on it).</summary>
    public ProfileStore Profiles => _profiles;

    /// <summary>The shared metrics the sessions fold their counters into.</summary>
    public ServerMetrics Metrics => _metrics;

    /// <summary>The overload policy (a session reads no profiles ahead for a batch already too old to serve).</summary>
    public SheddingPolicy Shedding => _shedding;

    /// <summary>Test-only: a title whose scoring throws (used only when <see cref="FaultInjection.IsEnabled"/>); 0 = off.</summary>
    public uint FaultInjectionTitleId { get; set; }

    /// <summary>
    /// Test-only: a title whose model read throws out of the store's read, outside the scorer (used only when
    /// <see cref="FaultInjection.IsEnabled"/>); 0 = off.
    /// </summary>
    public uint FaultInjectionReadTitleId { get; set; }

    /// <summary>
    /// Test-only: entering the stores for a batch throws (<see cref="ServingSession.EnterStores"/>; used only when
    /// <see cref="FaultInjection.IsEnabled"/>).
    /// </summary>
    public bool FaultInjectionEnterStores { get; set; }

    /// <summary>Rollout (#15): the candidate bundle being tried, if any (set once by the composition).</summary>
    public Rollout.RolloutService? Rollout { get; set; }

    /// <summary>
    /// The page policy's penalty per tag shared with the page (learning's #16, docs/learning.md section 8.2; 0 = off):
    /// a page's titles are decided in order with one <see cref="PageState"/>, so each logged propensity is the exact
    /// probability of the shown image given the images before it.
    /// </summary>
    public float PageDiversityPenalty { get; init; }

    /// <summary>
    /// Decides an image for every title of <paramref name="titles"/> into <paramref name="results"/> (same length),
    /// inside <paramref name="session"/>'s batch. A request's age at arrival (the batch's arrival to the session's
    /// clock) decides whether it is shed. The page's event ids are reserved together (title i gets the first + i) and
    /// the page is logged as one entry, whatever each title's outcome.
    /// </summary>
    public void Select(ServingSession session, in RequestContext request, ReadOnlySpan<TitleCandidate> titles, Span<SelectResult> results)
    {
        if (titles.IsEmpty)
        {
            return; // nothing to decide: no ids reserved, nothing logged (a page entry holds at least one title)
        }

        // One clock reading per batch (the session's), read again every 32 SELECTs of a long batch so a request queued
        // behind earlier ones is aged with a recent reading. A page of several titles reads the clock at its start:
        // its deadline counts from there, not from a batch start that earlier pages may have used up.
        var start = titles.Length > 1 ? session.Tick() : session.ClockForRequest();
        var clientStamp = request.TimestampUnixMs;
        var nowUnixMs = clientStamp != 0 && !_shedding.UsesClientTimestamp ? clientStamp : session.UnixMs(start);
        var unixMs = clientStamp != 0 ? clientStamp : nowUnixMs;
        // Rollout (#15, Rollout/RolloutService.cs): read once per page, so the whole page is served, logged and counted
        // in one arm; a member's arm is a sticky hash of its id (Core/Rollout/ArmSplit.cs). No lock, no allocation.
        var rollout = Rollout?.Current;
        var arm = rollout is null ? Arm.Control : rollout.Split.ArmOf(request.MemberId);
        var candidateBundle = arm == Arm.Candidate ? rollout : null;
        var counters = session.Counters;

        // Shed: answered at once, without the profile read, the model read or scoring: shedding must cost far less
        // than serving, or an overloaded node could never catch up. The page is still logged (reason overload).
        var shed = _shedding.IsTooOld(start, session.Arrival, clientStamp, nowUnixMs);
        MemberFlags memberFlags;
        ModelReadSession<ScoringVisitor>? models = null;
        ProfileReadSession? profiles = null;
        var unserved = FallbackReason.Overload;
        if (!shed)
        {
            try
            {
                models = session.EnterStores(out profiles);
            }
            catch (Exception)
            {
                // The stores could not be entered for the batch (the generation pin or an epoch entry threw): no title
                // can be read, so each gets its default image, reason InternalError; the page is answered and logged.
                models = null;
                unserved = FallbackReason.InternalError;
            }
        }

        var member = models is null ? ContextOnly(request, out memberFlags) : BuildMember(session, profiles!, request, out memberFlags);

        var firstEventId = _eventIds.Reserve(titles.Length);
        var log = _impressions;
        var size = ImpressionPage.SizeOf(titles.Length);
        byte[]? rented = null;
        Span<byte> entry = log is null ? default
            : size <= MaxStackEntryBytes ? stackalloc byte[size]
            : (rented = ArrayPool<byte>.Shared.Rent(size));
        var page = log is null ? default : new ImpressionPageWriter(entry, titles.Length, firstEventId, unixMs, member, memberFlags, (byte)arm);
        try
        {
            if (models is null)
            {
                for (var i = 0; i < titles.Length; i++)
                {
                    results[i] = Fallback(counters, firstEventId + (ulong)i, unserved, Title(titles[i]), page, i, log is not null);
                }
            }
            else
            {
                Decide(models, session.Scorer, counters, member, memberFlags, titles, results, firstEventId, unixMs, _shedding.PageDeadline(start), page, log is not null, candidateBundle);
            }

            if (rollout is not null)
            {
                Rollout!.Record(rollout, arm, results[..titles.Length], unixMs); // rollout (#15): arm index and counts
            }

            if (log is not null)
            {
                Log(counters, log, page.Entry, titles.Length);
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

    /// <summary>A connection's page scorer (<see cref="ServingSession.Scorer"/>): this service's engine and page policy.</summary>
    public PageScorer CreateScorer() => new(_engine, PageDiversityPenalty);

    /// <summary>
    /// Scores every title of the active bundle once for a synthetic member, logging nothing, so the first real
    /// requests do not pay for JIT compilation or cold caches (a JIT build; the native binary has no JIT).
    /// </summary>
    public void WarmUp()
    {
        using var snapshot = _models.AcquireSnapshot();
        var scorer = CreateScorer();
        var visitor = new ScoringVisitor(scorer);
        scorer.BeginPage(default, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 0, 0);
        foreach (var title in snapshot.TitleIds)
        {
            scorer.Next(new TitleContext { TitleId = title });
            snapshot.TryRead(title, ref visitor);
        }
    }

    private void Decide(
        ModelReadSession<ScoringVisitor> models,
        PageScorer scorer,
        SessionCounters counters,
        in MemberContext member,
        MemberFlags memberFlags,
        ReadOnlySpan<TitleCandidate> titles,
        Span<SelectResult> results,
        ulong firstEventId,
        long unixMs,
        long deadline,
        ImpressionPageWriter page,
        bool logging,
        Rollout.CandidateBundle? candidateBundle)
    {
        var withProfile = memberFlags != MemberFlags.None;
        // The connection's scorer serves the page: the member's features are encoded once (#12.3), the page state
        // carries the chosen images' tags from title to title (it changes only when a title is decided). The visitor
        // FASTER is handed holds only the scorer's reference.
        scorer.BeginPage(member, unixMs, FaultInjection.IsEnabled ? FaultInjectionTitleId : 0, FaultInjection.IsEnabled ? FaultInjectionReadTitleId : 0);
        var visitor = new ScoringVisitor(scorer);
        for (var i = 0; i < titles.Length; i++)
        {
            var candidate = titles[i];
            var eventId = firstEventId + (ulong)i;
            var title = Title(candidate);
            // The deadline needs a clock reading per title after the first (a page's only per-title clock reads): a
            // title whose model went to disk can take milliseconds, and the deadline is what bounds the page.
            if (i > 0 && Stopwatch.GetTimestamp() > deadline)
            {
                results[i] = Fallback(counters, eventId, FallbackReason.Deadline, title, page, i, logging);
                continue;
            }

            // The next title's model is not prefetched (ModelReadSession.Prefetch): that second FASTER lookup per title
            // cost more instructions than the cache misses it saved (docs/performance.md, "Model prefetch within a page").
            scorer.Next(title);

            bool found;
            try
            {
                // Rollout (#15): the candidate arm reads the candidate's model; a partial candidate falls through to the
                // active bundle for the titles it does not carry. One call site of models.TryRead: it is inlined with
                // FASTER's read, and every inlined copy adds its locals to the frame this method zeroes on entry.
                found = candidateBundle is not null && candidateBundle.TryRead(candidate.TitleId, ref visitor);
                if (!found && (candidateBundle is null || !candidateBundle.Full))
                {
                    found = models.TryRead(candidate.TitleId, ref visitor);
                }
            }
            catch (Exception)
            {
                results[i] = Fallback(counters, eventId, FallbackReason.InternalError, title, page, i, logging);
                continue;
            }

            if (!found)
            {
                // A default known from an earlier bundle: a later bundle dropped the title's model.
                var missing = _defaults.TryGet(candidate.TitleId, out _) ? FallbackReason.NoModel : FallbackReason.UnknownTitle;
                results[i] = Fallback(counters, eventId, missing, title, page, i, logging);
                continue;
            }

            switch (scorer.Outcome)
            {
                case VisitOutcome.Decided:
                    // The model chose. Without a stored profile it chose from the request's context alone, and the
                    // reason says so (NoProfile); it is still the model's decision, not a fallback.
                    var reason = withProfile ? FallbackReason.None : FallbackReason.NoProfile;
                    var decision = scorer.Decision; // the chosen image's tags joined the scorer's page state
                    results[i] = new SelectResult(candidate.TitleId, decision.ImageId, eventId, decision.Propensity, decision.ModelVersion, reason, _tags.Tag(eventId));
                    if (logging)
                    {
                        page.SetTitle(i, TitleDecision.From(decision, scorer.CandidateCount, title, reason));
                    }

                    counters.Decided(withProfile);
                    break;
                case VisitOutcome.Corrupt:
                    results[i] = Fallback(counters, eventId, FallbackReason.CorruptModel, title, page, i, logging);
                    break;
                default:
                    results[i] = Fallback(counters, eventId, FallbackReason.InternalError, title, page, i, logging);
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

    // The stored profile is the one the session read ahead with the batch's other requests', else read now.
    private static MemberContext BuildMember(ServingSession session, ProfileReadSession profiles, in RequestContext request, out MemberFlags flags)
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
            found = session.TryGetProfile(profiles, request.MemberId, out profile);
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

    private SelectResult Fallback(SessionCounters counters, ulong eventId, FallbackReason reason, in TitleContext title, ImpressionPageWriter page, int index, bool logging)
    {
        var image = _defaults.TryGet(title.TitleId, out var known) ? known : SelectResult.NoArtwork;
        if (logging)
        {
            var decision = new Decision { ImageId = image, Propensity = 1f, Policy = _engine.Options.Policy, PolicyParameter = _engine.Options.PolicyParameter };
            page.SetTitle(index, TitleDecision.From(decision, 0, title, reason));
        }

        counters.Fallback(reason);
        return new SelectResult(title.TitleId, image, eventId, 1f, 0, reason, _tags.Tag(eventId));
    }

    // One post per page, into the log's appender ring (this thread never enters FasterLog); a log that cannot take it
    // (ring full: the appender or the disk is behind, or the log closing) drops the page and counts its titles as
    // dropped: selections are answered either way.
    private static void Log(SessionCounters counters, ImpressionLog log, ReadOnlySpan<byte> entry, int titles)
    {
        bool logged;
        try
        {
            logged = log.TryPost(entry);
        }
        catch (Exception)
        {
            logged = false;
        }

        counters.Impression(logged, titles);
    }
}
