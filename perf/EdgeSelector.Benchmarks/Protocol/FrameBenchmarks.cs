using System.Buffers;
using BenchmarkDotNet.Attributes;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;

namespace EdgeSelector.Benchmarks.Protocol;

/// <summary>Server-side cost per frame: cut + decode a request, encode a response. Expected allocation: 0 B/op.</summary>
[MemoryDiagnoser]
public class FrameBenchmarks
{
    private const int PageSize = 40;

    private readonly TitleCandidate[] _scratch = new TitleCandidate[ProtocolOptions.Default.MaxTitlesPerPage];
    private readonly SelectResult[] _results = new SelectResult[PageSize];
    private readonly ArrayBufferWriter<byte> _output = new(64 * 1024);
    private ReadOnlySequence<byte> _select;
    private ReadOnlySequence<byte> _page;

    private struct SinkHandler : IRequestHandler
    {
        public ulong Sum;

        public void OnSelect(ulong requestId, in RequestContext context, in TitleCandidate title) => Sum += title.TitleId;

        public void OnSelectPage(ulong requestId, in RequestContext context, ReadOnlySpan<TitleCandidate> titles) => Sum += (ulong)titles.Length;

        public void OnReward(ulong requestId, in RewardRequest reward) => Sum++;

        public void OnPing(ulong requestId, ulong nonce) => Sum++;

        public void OnRequestError(ulong requestId, ErrorCode error) => Sum += 1000;
    }

    [GlobalSetup]
    public void Setup()
    {
        var context = new RequestContext
        {
            MemberId = 42,
            Country = CountryCode.Pack("US"),
            Language = CountryCode.Pack("en"),
            Device = DeviceClass.Tv,
            HourOfDay = 21,
            DayOfWeek = 5,
        };
        context.SetGenres([0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f]);
        var titles = new TitleCandidate[PageSize];
        for (int i = 0; i < PageSize; i++)
        {
            titles[i] = new TitleCandidate((uint)i, i, i % 2 == 0);
            _results[i] = new SelectResult((uint)i, (uint)i * 10, (ulong)i, 0.5f, 7, FallbackReason.None);
        }

        var buffer = new ArrayBufferWriter<byte>();
        FrameWriter.WriteSelect(buffer, 1, in context, in titles[0]);
        _select = new ReadOnlySequence<byte>(buffer.WrittenMemory.ToArray());
        buffer.ResetWrittenCount();
        FrameWriter.WriteSelectPage(buffer, 2, in context, titles);
        _page = new ReadOnlySequence<byte>(buffer.WrittenMemory.ToArray());
    }

    /// <summary>FrameReader + RequestDispatcher on one SELECT.</summary>
    [Benchmark]
    public ulong ParseSelect() => Parse(_select);

    /// <summary>FrameReader + RequestDispatcher on one 40-title SELECT_PAGE.</summary>
    [Benchmark]
    public ulong ParseSelectPage() => Parse(_page);

    /// <summary>FrameWriter.WriteSelectResult.</summary>
    [Benchmark]
    public int WriteSelectResult()
    {
        _output.ResetWrittenCount();
        FrameWriter.WriteSelectResult(_output, 1, in _results[0]);
        return _output.WrittenCount;
    }

    /// <summary>FrameWriter.WriteSelectPageResult with 40 entries.</summary>
    [Benchmark]
    public int WriteSelectPageResult()
    {
        _output.ResetWrittenCount();
        FrameWriter.WriteSelectPageResult(_output, 2, _results);
        return _output.WrittenCount;
    }

    private ulong Parse(ReadOnlySequence<byte> input)
    {
        var handler = new SinkHandler();
        ReadOnlySequence<byte> buffer = input;
        while (FrameReader.TryReadFrame(ref buffer, ProtocolOptions.Default, out Frame frame, out _))
        {
            RequestDispatcher.Dispatch(in frame, ProtocolOptions.Default, _scratch, ref handler);
        }

        return handler.Sum;
    }
}
