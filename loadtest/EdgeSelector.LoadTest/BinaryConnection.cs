using System.Buffers;
using System.Net;
using EdgeSelector.Protocol;

namespace EdgeSelector.LoadTest;

/// <summary>
/// A lean driver of the binary protocol (docs/protocol.md): frames written with <see cref="FrameWriter"/> into one
/// reused buffer per batch, responses cut with <see cref="FrameReader"/> and decoded with <see cref="PayloadReader"/>
/// straight from the receive buffer. No Task, no allocation per request.
/// </summary>
/// <remarks>
/// Request ids are <c>(sequence &lt;&lt; 16) | (slot + 1)</c>: the low 16 bits find the request's slot (its send
/// time and kind) whatever order the answers come in, the sequence catches an answer to a request not in flight.
/// </remarks>
public sealed class BinaryConnection : LoadConnection
{
    private const int EventRing = 4096;

    private readonly Workload _workload;
    private readonly ArrayBufferWriter<byte> _send = new(64 * 1024);
    private readonly ulong[] _slotIds;
    private readonly long[] _slotStamps;
    private readonly Opcode[] _slotKinds;
    private readonly int[] _free;
    private readonly TitleCandidate[] _titles;
    private readonly SelectResult[] _results;
    private readonly ulong[] _events = new ulong[EventRing];
    private readonly ulong[] _tags = new ulong[EventRing]; // each event's tag, sent back with its reward
    private int _freeCount;
    private int _eventHead;
    private int _eventCount;
    private ulong _sequence;

    /// <summary>Connects to <paramref name="endPoint"/>.</summary>
    public BinaryConnection(IPEndPoint endPoint, LoadOptions options, int index)
        : base(endPoint, options, index)
    {
        _workload = new Workload(options);
        int p = options.Pipeline;
        _slotIds = new ulong[p];
        _slotStamps = new long[p];
        _slotKinds = new Opcode[p];
        _free = new int[p];
        for (int i = 0; i < p; i++)
        {
            _free[i] = p - 1 - i;
        }

        _freeCount = p;
        _titles = new TitleCandidate[options.PageSize];
        _results = new SelectResult[Math.Max(options.PageSize, 1)];
    }

    /// <inheritdoc />
    protected override int Outstanding => Options.Pipeline - _freeCount;

    /// <inheritdoc />
    protected override void AppendRequest(long stamp)
    {
        int slot = _free[--_freeCount];
        ulong id = (++_sequence << 16) | (uint)(slot + 1);
        _slotIds[slot] = id;
        _slotStamps[slot] = stamp;
        Opcode kind = _workload.NextKind(ref _random);
        if (kind == Opcode.Reward && _eventCount == 0)
        {
            kind = Opcode.Select; // nothing to reward yet
        }

        _slotKinds[slot] = kind;
        switch (kind)
        {
            case Opcode.Select:
                {
                    var context = _workload.NextContext(ref _random);
                    context.TimestampUnixMs = Options.StampSendTime ? UnixMs(stamp) : 0;
                    var title = _workload.NextTitle(ref _random);
                    FrameWriter.WriteSelect(_send, id, in context, in title);
                    break;
                }

            case Opcode.SelectPage:
                {
                    var context = _workload.NextContext(ref _random);
                    context.TimestampUnixMs = Options.StampSendTime ? UnixMs(stamp) : 0;
                    for (int i = 0; i < _titles.Length; i++)
                    {
                        _titles[i] = _workload.NextTitle(ref _random);
                    }

                    FrameWriter.WriteSelectPage(_send, id, in context, _titles);
                    break;
                }

            case Opcode.Ping:
                FrameWriter.WritePing(_send, id, id);
                break;

            default:
                {
                    int oldest = (_eventHead - _eventCount + EventRing) % EventRing;
                    _eventCount--;
                    var reward = new RewardRequest(_events[oldest], true, 12.5f, 0.4f, EventTag: _tags[oldest]);
                    FrameWriter.WriteReward(_send, id, in reward);
                    break;
                }
        }
    }

    /// <inheritdoc />
    protected override void SendBatch()
    {
        SendAll(_send.WrittenSpan);
        _send.ResetWrittenCount();
    }

    /// <inheritdoc />
    protected override int ParseResponses(ReadOnlySpan<byte> data, ReadOnlyMemory<byte> memory, long now)
    {
        var buffer = new ReadOnlySequence<byte>(memory);
        long total = buffer.Length;
        ErrorCode framing;
        while (FrameReader.TryReadFrame(ref buffer, ProtocolOptions.Default, out Frame frame, out framing))
        {
            HandleFrame(in frame, now);
        }

        if (framing != ErrorCode.None)
        {
            throw new InvalidDataException($"unreadable response frame ({framing})");
        }

        return (int)(total - buffer.Length);
    }

    private void HandleFrame(in Frame frame, long now)
    {
        ulong id = frame.RequestId;
        int slot = (int)(id & 0xFFFF) - 1;
        if (slot < 0 || slot >= _slotIds.Length || _slotIds[slot] != id)
        {
            Errors++;
            if (id == 0 && frame.Opcode == Opcode.Error)
            {
                _ = PayloadReader.ReadError(frame.Payload, out ErrorCode code, out _);
                throw new IOException($"the server closed the connection with ERROR {code}");
            }

            return;
        }

        _slotIds[slot] = 0;
        _free[_freeCount++] = slot;
        Record(_slotStamps[slot], now);
        Completed++;
        switch (frame.Opcode)
        {
            case Opcode.SelectResult when _slotKinds[slot] == Opcode.Select:
                if (PayloadReader.ReadSelectResult(frame.Payload, out SelectResult result) != ErrorCode.None)
                {
                    Errors++;
                    return;
                }

                Take(in result);
                break;

            case Opcode.SelectPageResult when _slotKinds[slot] == Opcode.SelectPage:
                if (PayloadReader.ReadSelectPageResult(frame.Payload, _results, out int count) != ErrorCode.None)
                {
                    Errors++;
                    return;
                }

                for (int i = 0; i < count; i++)
                {
                    Take(in _results[i]);
                }

                break;

            case Opcode.RewardResult when _slotKinds[slot] == Opcode.Reward:
                Rewards++;
                break;

            case Opcode.Pong when _slotKinds[slot] == Opcode.Ping:
                break;

            default:
                Errors++; // ERROR, or a response that does not match its request
                break;
        }
    }

    private void Take(in SelectResult result)
    {
        Selections++;
        if (result.Reason != FallbackReason.None)
        {
            Fallbacks++;
            return;
        }

        _events[_eventHead] = result.EventId;
        _tags[_eventHead] = result.EventTag;
        _eventHead = (_eventHead + 1) % EventRing;
        _eventCount = Math.Min(_eventCount + 1, EventRing);
    }
}
