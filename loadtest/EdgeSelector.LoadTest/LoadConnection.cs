using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using HdrHistogram;

namespace EdgeSelector.LoadTest;

/// <summary>
/// One connection of a run, driven by a <see cref="LoadDriver"/> thread with others: it keeps up to P requests
/// outstanding, writes every request it may send as one batch (one send), then parses every response that arrived
/// (one receive) and records each request's latency. Closed loop: a request is sent as soon as a slot frees, latency is measured from that send.
/// Open loop: request i of this connection is due at start + i / rate; it is sent at or after that time (later
/// when all P slots are busy) and its latency is measured from the due time, so a stalled server is charged for the
/// requests it kept from being sent (no coordinated omission, as wrk2).
/// </summary>
public abstract class LoadConnection : IDisposable
{
    private readonly object _histogramLock = new();
    private LongHistogram _histogram = NewHistogram();

    /// <summary>Opens the socket (Nagle off: the batch is the unit of writing).</summary>
    protected LoadConnection(IPEndPoint endPoint, LoadOptions options, int index)
    {
        Options = options;
        Index = index;
        Socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Socket.Connect(endPoint);
        _random = new FastRandom(options.Seed * 0x9E3779B97F4A7C15UL + (ulong)index + 1);
    }

    /// <summary>Requests answered (each SELECT_PAGE is one).</summary>
    public long Completed;

    /// <summary>Titles decided: 1 per SELECT, the page size per SELECT_PAGE, 1 per non-nil RESP reply.</summary>
    public long Selections;

    /// <summary>ERROR frames, RESP errors, unexpected responses.</summary>
    public long Errors;

    /// <summary>Titles answered with a fallback (reason other than None), or RESP nil replies.</summary>
    public long Fallbacks;

    /// <summary>REWARD requests answered.</summary>
    public long Rewards;

    /// <summary>Requests sent.</summary>
    public long Sent;

    /// <summary>Why the connection stopped early, if it did (set by its driver).</summary>
    public string? Failure { get; internal set; }

    /// <summary>The run's options.</summary>
    protected LoadOptions Options { get; }

    /// <summary>This connection's number.</summary>
    protected int Index { get; }

    /// <summary>The socket.</summary>
    protected Socket Socket { get; }

    /// <summary>This connection's generator.</summary>
    protected FastRandom _random;

    /// <summary>Requests sent and not yet answered.</summary>
    protected abstract int Outstanding { get; }

    private static readonly long ClockBaseTicks = Stopwatch.GetTimestamp();
    private static readonly long ClockBaseUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>The Unix time (ms) of a Stopwatch timestamp, on this process's wall clock.</summary>
    protected static long UnixMs(long stamp) => ClockBaseUnixMs + ((stamp - ClockBaseTicks) * 1000 / Stopwatch.Frequency);

    /// <summary>Latency histograms are in nanoseconds, up to a minute, 3 significant digits.</summary>
    public static LongHistogram NewHistogram() => new(60_000_000_000L, 3);

    /// <summary>Moves what was recorded since the last call into <paramref name="into"/> (null = discard).</summary>
    public void DrainHistogram(HistogramBase? into)
    {
        LongHistogram taken;
        lock (_histogramLock)
        {
            taken = _histogram;
            _histogram = NewHistogram();
        }

        into?.Add(taken);
    }

    /// <summary>Requests sent and not yet answered.</summary>
    internal int InFlight => Outstanding;

    /// <summary>True while the connection may carry load (no failure so far).</summary>
    internal bool Alive => Failure is null;

    /// <summary>
    /// Closed loop (<paramref name="interval"/> 0): fills every free slot, stamped <paramref name="now"/>. Open loop:
    /// adds each request due by <paramref name="now"/> while a slot is free, stamped with its due time, advancing
    /// <paramref name="nextDue"/>. Then writes the batch in one send. Returns the requests added.
    /// </summary>
    internal int Fill(long now, ref double nextDue, double interval, long budget)
    {
        int n = 0;
        long sent = Sent;
        while (Outstanding < Options.Pipeline && sent + n < budget)
        {
            long stamp = now;
            if (interval > 0)
            {
                if (nextDue > now)
                {
                    break;
                }

                stamp = (long)nextDue;
                nextDue += interval;
            }

            AppendRequest(stamp);
            n++;
        }

        if (n > 0)
        {
            SendBatch();
            Volatile.Write(ref Sent, sent + n);
        }

        return n;
    }

    /// <summary>The socket's file descriptor (for poll).</summary>
    internal int Descriptor => (int)Socket.Handle;

    /// <summary>Adds one request, due or sent at <paramref name="stamp"/>, to the pending batch.</summary>
    protected abstract void AppendRequest(long stamp);

    /// <summary>Writes the pending batch to the socket.</summary>
    protected abstract void SendBatch();

    /// <summary>Parses complete responses in <paramref name="data"/>; returns the bytes consumed.</summary>
    protected abstract int ParseResponses(ReadOnlySpan<byte> data, ReadOnlyMemory<byte> memory, long now);

    /// <summary>Records one latency (Stopwatch ticks) into the current histogram; call from <see cref="ParseResponses"/> only.</summary>
    protected void Record(long startStamp, long now)
    {
        var histogram = _histogram;
        long ns = (long)((now - startStamp) * (1e9 / Stopwatch.Frequency));
        histogram.RecordValue(Math.Clamp(ns, 0, histogram.HighestTrackableValue));
    }

    private byte[] _receive = new byte[256 * 1024];
    private int _filled;

    /// <summary>Reads what arrived (the caller knows the socket is readable) and parses every whole response.</summary>
    internal void ReceiveAndParse()
    {

        if (_filled == _receive.Length)
        {
            Array.Resize(ref _receive, _receive.Length * 2);
        }

        int read = Socket.Receive(_receive, _filled, _receive.Length - _filled, SocketFlags.None);
        if (read == 0)
        {
            throw new IOException("the server closed the connection");
        }

        _filled += read;
        long now = Stopwatch.GetTimestamp();
        int consumed;
        lock (_histogramLock)
        {
            consumed = ParseResponses(_receive.AsSpan(0, _filled), _receive.AsMemory(0, _filled), now);
        }

        if (consumed > 0)
        {
            Buffer.BlockCopy(_receive, consumed, _receive, 0, _filled - consumed);
            _filled -= consumed;
        }
    }

    /// <summary>Writes all of <paramref name="data"/>.</summary>
    protected void SendAll(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            int n = Socket.Send(data, SocketFlags.None);
            data = data[n..];
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Socket.Dispose();
        GC.SuppressFinalize(this);
    }
}
