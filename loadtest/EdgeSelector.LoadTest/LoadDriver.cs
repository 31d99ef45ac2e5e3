using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace EdgeSelector.LoadTest;

/// <summary>
/// One thread driving a group of connections: fill and send every connection's batch, then wait in one
/// <c>ppoll</c> until a socket is readable or the next request is due, then read and parse the readable ones.
/// Blocking in the kernel instead of spinning leaves the cores to the server (the load shares its machine), and
/// <c>ppoll</c>'s nanosecond timeout (with a 1 µs timer slack) paces the open loop far finer than the millisecond
/// of <see cref="Socket.Poll(int, SelectMode)"/>.
/// </summary>
/// <remarks>
/// Open loop: a connection wakes at most once per <see cref="LoadOptions.TickMicros"/>; requests that came due in
/// between go out together, stamped with their own due times, so the tick shows up in the latency (honestly)
/// instead of being hidden.
/// </remarks>
internal sealed class LoadDriver(LoadConnection[] connections, LoadOptions options, long start, long end, long budget, double ratePerConnection)
{
    private const int DrainSeconds = 2;

    public void Run(CancellationToken stop)
    {
        bool open = ratePerConnection > 0;
        double interval = open ? Stopwatch.Frequency / ratePerConnection : 0;
        long tick = (long)(options.TickMicros * Stopwatch.Frequency / 1e6);
        var nextDue = new double[connections.Length];
        Array.Fill(nextDue, start);
        var fds = new PollFd[connections.Length];
        for (int i = 0; i < fds.Length; i++)
        {
            fds[i] = new PollFd { Fd = connections[i].Descriptor, Events = PollFd.In };
        }

        Native.TrySetTimerSlack();
        long lastFill = 0;
        while (!stop.IsCancellationRequested)
        {
            long now = Stopwatch.GetTimestamp();
            if (now >= end || AllDone(budget))
            {
                break;
            }

            if (!open || now - lastFill >= tick)
            {
                for (int i = 0; i < connections.Length; i++)
                {
                    var c = connections[i];
                    if (c.Alive)
                    {
                        try
                        {
                            c.Fill(now, ref nextDue[i], interval, budget);
                        }
                        catch (Exception ex) when (IsConnectionFailure(ex))
                        {
                            Fail(c, fds, i, ex);
                        }
                    }
                }

                lastFill = now;
            }

            long wait = open ? OpenLoopWait(nextDue, lastFill + tick, now) : Stopwatch.Frequency / 10;
            WaitAndRead(fds, wait);
        }

        long drainEnd = Stopwatch.GetTimestamp() + (DrainSeconds * Stopwatch.Frequency);
        while (!stop.IsCancellationRequested && Stopwatch.GetTimestamp() < drainEnd && connections.Any(c => c.Alive && c.InFlight > 0))
        {
            WaitAndRead(fds, Stopwatch.Frequency / 10);
        }
    }

    private bool AllDone(long budget)
    {
        foreach (var c in connections)
        {
            if (c.Alive && Volatile.Read(ref c.Sent) < budget)
            {
                return false;
            }
        }

        return true;
    }

    // Sleep until the earliest due request of a connection that has a free slot (not before the next tick), or
    // until an answer arrives; connections whose slots are all busy only wake us by answering.
    private long OpenLoopWait(double[] nextDue, long notBefore, long now)
    {
        double earliest = double.MaxValue;
        for (int i = 0; i < connections.Length; i++)
        {
            if (connections[i].Alive && connections[i].InFlight < options.Pipeline)
            {
                earliest = Math.Min(earliest, nextDue[i]);
            }
        }

        if (earliest == double.MaxValue)
        {
            return Stopwatch.Frequency / 10;
        }

        return Math.Max(0, Math.Max((long)earliest, notBefore) - now);
    }

    private void WaitAndRead(PollFd[] fds, long waitTicks)
    {
        int ready = Native.Poll(fds, waitTicks);
        if (ready <= 0)
        {
            return;
        }

        for (int i = 0; i < fds.Length; i++)
        {
            if (fds[i].Revents != 0)
            {
                fds[i].Revents = 0;
                var c = connections[i];
                try
                {
                    c.ReceiveAndParse();
                }
                catch (Exception ex) when (IsConnectionFailure(ex))
                {
                    Fail(c, fds, i, ex);
                }
            }
        }
    }

    private static bool IsConnectionFailure(Exception ex) =>
        ex is SocketException or IOException or InvalidDataException or ObjectDisposedException;

    private static void Fail(LoadConnection c, PollFd[] fds, int index, Exception ex)
    {
        c.Failure ??= ex.Message;
        fds[index].Fd = -1; // poll ignores negative descriptors
    }
}

/// <summary><c>struct pollfd</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public const short In = 0x001;
    public int Fd;
    public short Events;
    public short Revents;
}

/// <summary>ppoll and prctl from libc: the tool runs on Linux (the server's platform).</summary>
internal static partial class Native
{
    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "ppoll", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int PPoll([In, Out] PollFd[] fds, nuint count, ref TimeSpec timeout, IntPtr signalMask);

    [DllImport("libc", EntryPoint = "prctl", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    /// <summary>Waits for readability of any descriptor for at most <paramref name="waitTicks"/> Stopwatch ticks; returns the ready count (0 on timeout or EINTR).</summary>
    public static int Poll(PollFd[] fds, long waitTicks)
    {
        long ns = (long)(waitTicks * (1e9 / Stopwatch.Frequency));
        var timeout = new TimeSpec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
        int ready = PPoll(fds, (nuint)fds.Length, ref timeout, IntPtr.Zero);
        return Math.Max(0, ready);
    }

    /// <summary>PR_SET_TIMERSLACK to 1 µs for this thread, so a short ppoll wakes on time (default slack is 50 µs).</summary>
    public static void TrySetTimerSlack()
    {
        const int PrSetTimerSlack = 29;
        try
        {
            _ = Prctl(PrSetTimerSlack, 1000, 0, 0, 0);
        }
        catch (EntryPointNotFoundException)
        {
        }
        catch (DllNotFoundException)
        {
        }
    }
}
