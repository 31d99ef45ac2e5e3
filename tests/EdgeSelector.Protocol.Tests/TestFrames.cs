using System.Buffers;
using MessagePack;

namespace EdgeSelector.Protocol.Tests;

/// <summary>Writes hand-made MessagePack for a payload (<see cref="TestFrames.Msgpack"/>).</summary>
internal delegate void MsgpackWrite(ref MessagePackWriter writer);

/// <summary>Sample messages and helpers that build frames and sequences for the tests.</summary>
internal static class TestFrames
{
    /// <summary>The bytes a hand-written MessagePack sequence produces: payloads the typed writers would refuse to build.</summary>
    public static byte[] Msgpack(MsgpackWrite write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        write(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    public static RequestContext Context(bool withGenres = true, long timestamp = 1_764_300_000_000)
    {
        var context = new RequestContext
        {
            MemberId = 0x0123_4567_89AB_CDEF,
            Country = CountryCode.Pack("US"),
            Language = CountryCode.Pack("en"),
            Device = DeviceClass.Tv,
            HourOfDay = 21,
            DayOfWeek = 5,
            TimestampUnixMs = timestamp,
        };
        if (withGenres)
        {
            context.SetGenres([0.5f, 0.25f, 0.125f, 0f, 1f]);
        }

        return context;
    }

    public static readonly TitleCandidate Title = new(80_100_123, 0.875f, true);

    public static TitleCandidate[] Titles(int count) =>
        Enumerable.Range(0, count).Select(i => new TitleCandidate((uint)(1000 + i), i / 10f, i % 3 == 0)).ToArray();

    public static readonly SelectResult Result = new(80_100_123, 42, 0xFEED_0000_0000_0001, 0.625f, 20261128, FallbackReason.None, 0x0123_4567_89AB_CDEF);

    public static readonly RewardRequest Reward = new(0xFEED_0000_0000_0001, true, 42.5f, 0.75f, 1_764_300_060_000, 0x0123_4567_89AB_CDEF);

    /// <summary>
    /// Calls <paramref name="check"/> with <paramref name="payload"/> cut at every length, and with each of its bytes
    /// set in turn to every value of <paramref name="interesting"/> and to its own neighbours (±1).
    /// </summary>
    public static void EachByteMutatedOrCut(byte[] payload, IEnumerable<byte> interesting, Action<byte[]> check)
    {
        for (int at = 0; at < payload.Length; at++)
        {
            check(payload[..at]);
            foreach (byte value in interesting.Append((byte)(payload[at] + 1)).Append((byte)(payload[at] - 1)))
            {
                var bytes = payload.ToArray();
                bytes[at] = value;
                check(bytes);
            }
        }
    }

    public static byte[] Build(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>One frame of every opcode, back to back.</summary>
    public static byte[] AllFrames()
    {
        var buffer = new ArrayBufferWriter<byte>();
        RequestContext context = Context();
        FrameWriter.WriteSelect(buffer, 1, in context, in Title);
        FrameWriter.WriteSelectPage(buffer, 2, in context, Titles(20));
        FrameWriter.WriteReward(buffer, 3, in Reward);
        FrameWriter.WritePing(buffer, 4, 99);
        FrameWriter.WriteSelectResult(buffer, 1, in Result);
        FrameWriter.WriteSelectPageResult(buffer, 2, [Result, Result with { TitleId = 7, Reason = FallbackReason.NoModel }]);
        FrameWriter.WriteRewardResult(buffer, 3, RewardStatus.Duplicate);
        FrameWriter.WritePong(buffer, 4, 99);
        FrameWriter.WriteError(buffer, 5, ErrorCode.TooManyTitles);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A frame with an arbitrary payload, for hand-made malformed payloads.</summary>
    public static byte[] RawFrame(Opcode opcode, ulong requestId, ReadOnlySpan<byte> payload, byte version = 1)
    {
        var bytes = new byte[FrameHeader.Size + payload.Length];
        new FrameHeader((uint)bytes.Length, version, opcode, 0, requestId).Write(bytes);
        payload.CopyTo(bytes.AsSpan(FrameHeader.Size));
        return bytes;
    }

    public static byte[] Payload(byte[] frame) => frame[FrameHeader.Size..];

    /// <summary>The same bytes as a two-segment sequence split at <paramref name="at"/>.</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, int at)
    {
        var first = new Segment(bytes.AsMemory(0, at), 0);
        Segment last = first.Append(bytes.AsMemory(at));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>The same bytes with every byte in its own segment: the worst case for the slow paths.</summary>
    public static ReadOnlySequence<byte> OneBytePerSegment(byte[] bytes)
    {
        if (bytes.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(bytes.AsMemory(0, 1), 0);
        Segment last = first;
        for (int i = 1; i < bytes.Length; i++)
        {
            last = last.Append(bytes.AsMemory(i, 1));
        }

        return new ReadOnlySequence<byte>(first, 0, last, 1);
    }

    /// <summary>Reads every frame; returns them with their payloads copied, plus the reader's final state.</summary>
    public static (List<(FrameHeader Header, byte[] Payload)> Frames, ErrorCode Error, long Remaining) ReadAll(
        ReadOnlySequence<byte> buffer, ProtocolOptions? options = null)
    {
        var frames = new List<(FrameHeader, byte[])>();
        ErrorCode error;
        while (FrameReader.TryReadFrame(ref buffer, options ?? ProtocolOptions.Default, out Frame frame, out error))
        {
            frames.Add((frame.Header, frame.Payload.ToArray()));
        }

        return (frames, error, buffer.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

/// <summary>Records the last call the dispatcher made.</summary>
internal struct RecordingHandler : IRequestHandler
{
    public string Last;
    public ulong RequestId;
    public RequestContext Context;
    public TitleCandidate Title;
    public TitleCandidate[] Titles;
    public RewardRequest Reward;
    public ulong Nonce;
    public ErrorCode Error;

    public void OnSelect(ulong requestId, in RequestContext context, in TitleCandidate title) =>
        (Last, RequestId, Context, Title) = ("select", requestId, context, title);

    public void OnSelectPage(ulong requestId, in RequestContext context, ReadOnlySpan<TitleCandidate> titles) =>
        (Last, RequestId, Context, Titles) = ("page", requestId, context, titles.ToArray());

    public void OnReward(ulong requestId, in RewardRequest reward) => (Last, RequestId, Reward) = ("reward", requestId, reward);

    public void OnPing(ulong requestId, ulong nonce) => (Last, RequestId, Nonce) = ("ping", requestId, nonce);

    public void OnRequestError(ulong requestId, ErrorCode error) => (Last, RequestId, Error) = ("error", requestId, error);
}
