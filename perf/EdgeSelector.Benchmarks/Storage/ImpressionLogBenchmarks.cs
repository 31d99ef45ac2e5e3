using BenchmarkDotNet.Attributes;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Storage.Impressions;

namespace EdgeSelector.Benchmarks.Storage;

/// <summary>
/// What the impression log adds to a page on the serving path (per page of <see cref="TitlesPerPage"/> titles): encoding and appending one page entry
/// (docs/impression-log.md; what the server does) against the per-title records it replaced (one 136-byte record and
/// one FasterLog append per title). Group commit runs in the background, as the server runs it.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class ImpressionLogBenchmarks
{
    private const int Pages = 256;
    private readonly byte[] _record = new byte[ImpressionRecord.RecordSize];
    private byte[] _page = [];
    private TitleDecision[] _titles = [];
    private ImpressionLog _log = null!;
    private string _dir = string.Empty;
    private MemberContext _member;
    private ulong _eventId = 1;

    /// <summary>Titles per page (1 = a single SELECT).</summary>
    [Params(1, 40)]
    public int TitlesPerPage { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "es-bench-log-" + Guid.NewGuid().ToString("N"));
        _log = ImpressionLog.Open(new ImpressionLogOptions { DataDirectory = _dir, MemoryBytes = 64L << 20 });
        _member = new MemberContext { MemberId = 42, Country = CountryCode.Pack("US"), Device = DeviceClass.Tv, LocalHour = 21 };
        _page = new byte[ImpressionPage.SizeOf(TitlesPerPage)];
        _titles = Enumerable.Range(0, TitlesPerPage).Select(i => new TitleDecision
        {
            TitleId = (uint)(7 + i),
            ChosenImageId = (uint)(701 + i),
            CandidateCount = 32,
            PolicyKind = PolicyKind.EpsilonGreedy,
            Propensity = 0.9,
            ModelVersion = 3,
        }).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _log.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>The old path: one per-title record encoded and appended for every title of the page.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Pages)]
    public long PerTitleRecords()
    {
        long last = 0;
        for (var p = 0; p < Pages; p++)
        {
            for (var i = 0; i < _titles.Length; i++)
            {
                var record = new ImpressionRecord
                {
                    EventId = _eventId++,
                    TimestampMs = 1_700_000_000_000,
                    MemberId = _member.MemberId,
                    Country = _member.Country,
                    Device = _member.Device,
                    LocalHour = _member.LocalHour,
                    Genres = _member.Genres,
                    TitleId = _titles[i].TitleId,
                    ChosenImageId = _titles[i].ChosenImageId,
                    CandidateCount = _titles[i].CandidateCount,
                    Propensity = _titles[i].Propensity,
                    ModelVersion = _titles[i].ModelVersion,
                };
                record.WriteRecord(_record);
                Append(_record, ref last);
            }
        }

        return last;
    }

    /// <summary>The server's path: one page entry (member once, then each title) and one append per page.</summary>
    [Benchmark(OperationsPerInvoke = Pages)]
    public long OnePageEntry()
    {
        long last = 0;
        for (var p = 0; p < Pages; p++)
        {
            var writer = new ImpressionPageWriter(_page, _titles.Length, _eventId, 1_700_000_000_000, _member, MemberFlags.ProfileFound);
            _eventId += (ulong)_titles.Length;
            for (var i = 0; i < _titles.Length; i++)
            {
                writer.SetTitle(i, _titles[i]);
            }

            Append(writer.Entry, ref last);
        }

        return last;
    }

    // Spins only when the log's memory is full (the disk is behind).
    private void Append(ReadOnlySpan<byte> entry, ref long last)
    {
        while (!_log.TryEnqueue(entry, out last))
        {
            Thread.Yield();
        }
    }
}
