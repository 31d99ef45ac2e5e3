using System.Buffers;
using System.Diagnostics;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Selection;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Storage.Impressions;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// The request path: member context (request, else stored profile), one model snapshot per request (a page sees
/// one bundle), score each title in place, fall back to the default image on anything that fails, log the page as
/// one entry, count everything. Never throws to the caller and allocates nothing per request
/// (SelectionServiceTests count the bytes).
/// </summary>
internal sealed class SelectionService
{
    // A page entry up to this size (99 titles) is built on the stack; a bigger one in a pooled buffer.
    private const int MaxStackEntryBytes = 4096;

    private readonly ServerState _state;
    private readonly long _deadlineTicks;

    public SelectionService(ServerState state)
    {
        _state = state;
        _deadlineTicks = (long)(state.Options.DeadlineMs * Stopwatch.Frequency / 1000.0);
        if (state.Impressions is { } log && ImpressionPage.SizeOf(state.Options.MaxTitlesPerPage) > log.MaxRecordBytes)
        {
            throw new ArgumentException($"EdgeSelector:MaxTitlesPerPage {state.Options.MaxTitlesPerPage}: a page's impression entry would exceed the log's {log.MaxRecordBytes}-byte entry limit");
        }
    }

    /// <summary>
    /// Decides an image for every title of <paramref name="titles"/> into <paramref name="results"/> (same length).
    /// <paramref name="shed"/> answers every title with its default image and reason "overload" without scoring.
    /// The page's event ids are reserved together (title i gets the first + i) and the page is logged as one entry
    /// (docs/impression-log.md), whatever each title's outcome.
    /// </summary>
    public void Select(in RequestContext request, ReadOnlySpan<TitleCandidate> titles, Span<SelectResult> results, bool shed = false)
    {
        if (titles.IsEmpty)
        {
            return;
        }

        var start = Stopwatch.GetTimestamp();
        var unixMs = request.TimestampUnixMs != 0 ? request.TimestampUnixMs : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var member = BuildMember(request, out var memberFlags);
        var noProfile = memberFlags == MemberFlags.None;
        var firstEventId = _state.EventIds.Reserve(titles.Length);
        var log = _state.Impressions;
        var size = ImpressionPage.SizeOf(titles.Length);
        byte[]? rented = null;
        Span<byte> entry = log is null ? default
            : size <= MaxStackEntryBytes ? stackalloc byte[size]
            : (rented = ArrayPool<byte>.Shared.Rent(size));
        var page = log is null ? default : new ImpressionPageWriter(entry, titles.Length, firstEventId, unixMs, member, memberFlags);
        try
        {
            var engine = _state.Engine;
            using var snapshot = _state.Models.AcquireSnapshot();
            for (var i = 0; i < titles.Length; i++)
            {
                var candidate = titles[i];
                var eventId = firstEventId + (ulong)i;
                var title = new TitleContext { TitleId = candidate.TitleId, RecommenderScore = candidate.Score, Interacted = candidate.InteractedBefore };
                if (shed)
                {
                    results[i] = Fallback(eventId, FallbackReason.Overload, title, page, i, log is not null);
                    continue;
                }

                if (i > 0 && Stopwatch.GetTimestamp() - start > _deadlineTicks)
                {
                    results[i] = Fallback(eventId, FallbackReason.Deadline, title, page, i, log is not null);
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
                    results[i] = Fallback(eventId, FallbackReason.InternalError, title, page, i, log is not null);
                    continue;
                }

                if (!found)
                {
                    var reason = _state.Defaults.TryGet(candidate.TitleId, out _) ? FallbackReason.NoModel : FallbackReason.UnknownTitle;
                    results[i] = Fallback(eventId, reason, title, page, i, log is not null);
                    continue;
                }

                switch (visitor.Outcome)
                {
                    case VisitOutcome.Decided:
                        var decided = noProfile ? FallbackReason.NoProfile : FallbackReason.None;
                        results[i] = new SelectResult(candidate.TitleId, visitor.Decision.ImageId, eventId, visitor.Decision.Propensity, visitor.Decision.ModelVersion, decided, _state.EventTags.Tag(eventId));
                        if (log is not null)
                        {
                            page.SetTitle(i, TitleDecision.From(visitor.Decision, visitor.CandidateCount, title, decided));
                        }

                        _state.Metrics.Selection(decided);
                        break;
                    case VisitOutcome.Corrupt:
                        results[i] = Fallback(eventId, FallbackReason.CorruptModel, title, page, i, log is not null);
                        break;
                    default:
                        results[i] = Fallback(eventId, FallbackReason.InternalError, title, page, i, log is not null);
                        break;
                }
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
        using var snapshot = _state.Models.AcquireSnapshot();
        var visitor = new ScoringVisitor { Engine = _state.Engine, UnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        foreach (var title in snapshot.TitleIds)
        {
            visitor.Title = new TitleContext { TitleId = title };
            snapshot.TryRead(title, ref visitor);
        }
    }

    private MemberContext BuildMember(in RequestContext request, out MemberFlags flags)
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
            flags = MemberFlags.GenresFromRequest;
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
            flags = MemberFlags.None;
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
        var image = _state.Defaults.TryGet(title.TitleId, out var known) ? known : SelectResult.NoArtwork;
        if (logging)
        {
            var decision = new Decision { ImageId = image, Propensity = 1f, Policy = _state.Engine.Options.Policy, PolicyParameter = _state.Engine.Options.PolicyParameter };
            page.SetTitle(index, TitleDecision.From(decision, 0, title, reason));
        }

        _state.Metrics.Selection(reason);
        return new SelectResult(title.TitleId, image, eventId, 1f, 0, reason, _state.EventTags.Tag(eventId));
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

        _state.Metrics.Impression(logged, titles);
    }
}
