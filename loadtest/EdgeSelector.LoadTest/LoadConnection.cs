using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using HdrHistogram;

namespace EdgeSelector.LoadTest;

/// <summary>
/// One connection of a run, driven by one thread: it keeps up to P requests outstanding, writes every request it
/// may send as one batch (one send), then parses every response that arrived (one receive) and records each
/// request's latency. Closed loop: a request is sent as soon as a slot frees, latency is measured from that send.
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
        Random = new FastRandom(options.Seed * 0x9E3779B97F4A7C15UL + (ulong)index + 1);
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

    /// <summary>Why the connection stopped early, if it did.</summary>
    public string? Failure { get; private set; }

    /// <summary>The run's options.</summary>
    protected LoadOptions Options { get; }

    /// <summary>This connection's number.</summary>
    protected int Index { get; }

    /// <summary>The socket.</summary>
    protected Socket Socket { get; }

    /// <summary>This connection's generator.</summary>
    protected FastRandom Random;

    /// <summary>Requests sent and not yet answered.</summary>
    protected abstract int Outstanding { get; }

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

    /// <summary>Runs until <paramref name="endTimestamp"/>, the request budget, or <paramref name="stop"/>; then waits for answers in flight (at most 2 s).</summary>
    public void Run(long startTimestamp, long endTimestamp, long budget, double ratePerSecond, CancellationToken stop)
    {
        try
        {
            RunCore(startTimestamp, endTimestamp, budget, ratePerSecond, stop);
        }
        catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException or ObjectDisposedException)
        {
            Failure = ex.Message;
        }
    }

    private void RunCore(long startTimestamp, long endTimestamp, long budget, double ratePerSecond, CancellationToken stop)
    {
        bool open = ratePerSecond > 0;
        double interval = open ? Stopwatch.Frequency / ratePerSecond : 0;
        double nextDue = startTimestamp;
        long sent = 0;
        long[] batchStamps = new long[Options.Pipeline];
        while (!stop.IsCancellationRequested)
        {
            long now = Stopwatch.GetTimestamp();
            if (now >= endTimestamp || sent >= budget)
            {
                break;
            }

            int n = 0;
            if (open)
            {
                while (Outstanding + n < Options.Pipeline && nextDue <= now && sent + n < budget)
                {
                    batchStamps[n++] = (long)nextDue;
                    nextDue += interval;
                }
            }
            else
            {
                while (Outstanding + n < Options.Pipeline && sent + n < budget)
                {
                    batchStamps[n++] = now;
                }
            }

            if (n > 0)
            {
                for (int i = 0; i < n; i++)
                {
                    AppendRequest(batchStamps[i]);
                }

                SendBatch();
                sent += n;
                Volatile.Write(ref Sent, sent);
            }

            if (Outstanding > 0)
            {
                // Closed loop: block for answers. Open loop: wait no longer than the next due time.
                int waitMicros = open ? (int)Math.Clamp((nextDue - Stopwatch.GetTimestamp()) * 1e6 / Stopwatch.Frequency, 0, 1000) : 100_000;
                ReceiveAndParse(waitMicros);
            }
            else if (open)
            {
                double ahead = (nextDue - Stopwatch.GetTimestamp()) * 1000.0 / Stopwatch.Frequency;
                if (ahead > 1.5)
                {
                    Thread.Sleep(1);
                }
                else if (ahead > 0)
                {
                    Thread.Yield();
                }
            }
        }

        long drainEnd = Stopwatch.GetTimestamp() + (2 * Stopwatch.Frequency);
        while (Outstanding > 0 && Stopwatch.GetTimestamp() < drainEnd)
        {
            ReceiveAndParse(100_000);
        }
    }

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

    private void ReceiveAndParse(int waitMicros)
    {
        if (Socket.Available == 0 && !Socket.Poll(waitMicros, SelectMode.SelectRead))
        {
            return;
        }

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
