using System.Diagnostics;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Models;
using EdgeSelector.Server.Serving;
using EdgeSelector.Storage.Impressions;
using EdgeSelector.Storage.Models;

namespace EdgeSelector.Server.Dashboard;

/// <summary>
/// The per-title view: which candidate images the model chose, how often and with what logged propensity, over a
/// bounded sample of the newest decisions. It reads them back from the impression log the request path already writes
/// (<see cref="ImpressionLog.ReadRecent{TConsumer}"/>: the newest one or two log pages, at most
/// <see cref="MaxDecisions"/> entries), so serving does no extra work for it; a sample is reused for
/// <see cref="MaxAge"/>, however many pages ask.
/// </summary>
internal sealed class RecentDecisions
{
    /// <summary>Bytes of log read back per sample: about 15,000 single-title entries (144 bytes), or 50,000 titles in pages of 40.</summary>
    public const long WindowBytes = 2L << 20;

    /// <summary>Most entries one sample reads.</summary>
    public const int MaxDecisions = 20_000;

    /// <summary>How long a sample is reused.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

    /// <summary>The model-store reader the sample uses (declared where the store opens: a pool of FASTER sessions of its own).</summary>
    public static ModelReader ModelReader { get; } = ModelReader.For<CandidateReader>();

    private readonly ImpressionLog? _log;
    private readonly ModelStore _models;
    private readonly Lock _lock = new();
    private Aggregate? _last;
    private long _lastAt;

    public RecentDecisions(ImpressionLog? log, ModelStore models)
    {
        _log = log;
        _models = models;
    }

    /// <summary>The <paramref name="top"/> most decided titles of the sample, or just <paramref name="titleId"/> when given.</summary>
    public TitleSample Read(int top, uint? titleId)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var log = _log;
        if (log is null)
        {
            return new TitleSample { AtMs = now, Enabled = false, Titles = [] };
        }

        var sample = Sample(log);
        IEnumerable<KeyValuePair<uint, TitleTally>> chosen = titleId is { } id
            ? sample.Titles.Where(t => t.Key == id).DefaultIfEmpty(new(id, new TitleTally()))
            : sample.Titles.OrderByDescending(t => t.Value.Decisions).ThenBy(t => t.Key).Take(Math.Clamp(top, 1, 100));
        using var models = _models.AcquireSnapshot();
        return new TitleSample
        {
            AtMs = now,
            Enabled = true,
            Decisions = sample.Decisions,
            FromMs = sample.FromMs,
            ToMs = sample.ToMs,
            Titles = [.. chosen.Select(t => View(t.Key, t.Value, models))],
        };
    }

    private Aggregate Sample(ImpressionLog log)
    {
        lock (_lock)
        {
            if (_last is not null && Stopwatch.GetElapsedTime(_lastAt) < MaxAge)
            {
                return _last;
            }

            var aggregate = new Aggregate();
            try
            {
                log.ReadRecent(WindowBytes, MaxDecisions, new Reader(aggregate));
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or ObjectDisposedException)
            {
                // The log moved under the scan (rotation) or is closing: show what was read; the next sample retries.
            }

            _last = aggregate;
            _lastAt = Stopwatch.GetTimestamp();
            return aggregate;
        }
    }

    private static TitleView View(uint titleId, TitleTally tally, ModelSnapshot models)
    {
        var candidates = new CandidateReader();
        models.TryRead(titleId, ref candidates);
        var images = new List<ImageView>();
        var seen = new HashSet<uint>();
        foreach (var image in candidates.Images ?? [])
        {
            seen.Add(image);
            images.Add(Image(image, tally, inModel: true));
        }

        foreach (var image in tally.Images.Keys.Order())
        {
            if (seen.Add(image))
            {
                images.Add(Image(image, tally, inModel: false));
            }
        }

        return new TitleView
        {
            TitleId = titleId,
            Decisions = tally.Decisions,
            Fallbacks = tally.Fallbacks,
            ModelVersion = tally.ModelVersion,
            DefaultImageId = candidates.DefaultImage,
            Images = images,
        };
    }

    private static ImageView Image(uint imageId, TitleTally tally, bool inModel)
    {
        var decided = tally.Decisions - tally.Fallbacks;
        if (!tally.Images.TryGetValue(imageId, out var image) || image.Count == 0)
        {
            return new ImageView { ImageId = imageId, InModel = inModel };
        }

        return new ImageView
        {
            ImageId = imageId,
            Decisions = image.Count,
            Share = decided > 0 ? (double)image.Count / decided : 0,
            MeanPropensity = image.PropensitySum / image.Count,
            MinPropensity = image.MinPropensity,
            MaxPropensity = image.MaxPropensity,
            InModel = inModel,
        };
    }

    private sealed class Aggregate
    {
        public readonly Dictionary<uint, TitleTally> Titles = [];
        public int Decisions;
        public long FromMs;
        public long ToMs;

        public void Add(in ImpressionRecord record)
        {
            Decisions++;
            FromMs = FromMs == 0 ? record.TimestampMs : Math.Min(FromMs, record.TimestampMs);
            ToMs = Math.Max(ToMs, record.TimestampMs);
            if (!Titles.TryGetValue(record.TitleId, out var title))
            {
                Titles[record.TitleId] = title = new TitleTally();
            }

            title.Decisions++;
            // NoProfile is still the model's choice (from context features); every other reason served the default image.
            if (record.Fallback is not (FallbackReason.None or FallbackReason.NoProfile))
            {
                title.Fallbacks++;
                return;
            }

            title.ModelVersion = record.ModelVersion;
            if (!title.Images.TryGetValue(record.ChosenImageId, out var image))
            {
                title.Images[record.ChosenImageId] = image = new ImageTally { MinPropensity = double.MaxValue };
            }

            image.Count++;
            image.PropensitySum += record.Propensity;
            image.MinPropensity = Math.Min(image.MinPropensity, record.Propensity);
            image.MaxPropensity = Math.Max(image.MaxPropensity, record.Propensity);
        }
    }

    private sealed class TitleTally
    {
        public readonly Dictionary<uint, ImageTally> Images = [];
        public int Decisions;
        public int Fallbacks;
        public ulong ModelVersion;
    }

    private sealed class ImageTally
    {
        public int Count;
        public double PropensitySum;
        public double MinPropensity;
        public double MaxPropensity;
    }

    /// <summary>Decodes each log entry (a page: every title) into the aggregate (entries of other kinds or versions are skipped).</summary>
    private readonly struct Reader(Aggregate aggregate) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            if (!ImpressionEntry.TryRead(record, out var entry))
            {
                return;
            }

            foreach (var impression in entry)
            {
                aggregate.Add(impression);
            }
        }
    }

    /// <summary>Copies a title's candidate image ids and default image out of the model store (inside its read callback).</summary>
    private struct CandidateReader : IModelVisitor
    {
        public uint[]? Images;
        public uint DefaultImage;

        public void Visit(uint titleId, ReadOnlySpan<byte> model)
        {
            if (ModelView.TryOpen(model, ModelCheck.Structure, out var view, out _))
            {
                Images = view.ImageIds.ToArray();
                DefaultImage = view.DefaultImageId;
            }
        }
    }
}
