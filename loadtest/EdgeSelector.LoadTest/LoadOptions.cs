using System.Globalization;
using System.Net;

namespace EdgeSelector.LoadTest;

/// <summary>Which wire protocol the load speaks.</summary>
public enum TargetProtocol
{
    /// <summary>EdgeSelector's binary protocol (docs/protocol.md).</summary>
    Binary,
    /// <summary>RESP2: Redis, or EdgeSelector's RESP front door.</summary>
    Resp,
}

/// <summary>Which command a RESP run sends.</summary>
public enum RespCommand
{
    /// <summary><c>GET member:title</c> (a precomputed answer in Redis, or the front door's GET).</summary>
    Get,
    /// <summary><c>ART.SELECT title member</c> (the front door).</summary>
    ArtSelect,
    /// <summary><c>PING</c>.</summary>
    Ping,
}

/// <summary>Everything a run needs; <see cref="Parse"/> reads it from the command line and checks it.</summary>
public sealed class LoadOptions
{
    /// <summary>Longest run accepted: every load loop is bounded in time.</summary>
    public const double MaxDurationSeconds = 3600;

    /// <summary>Target host (a loopback address unless <see cref="AllowRemote"/>).</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Target port.</summary>
    public int Port { get; set; } = 7400;

    /// <summary>Protocol spoken.</summary>
    public TargetProtocol Protocol { get; set; } = TargetProtocol.Binary;

    /// <summary>Command of a RESP run.</summary>
    public RespCommand RespCommand { get; set; } = RespCommand.Get;

    /// <summary>Allow a target that is not a loopback address.</summary>
    public bool AllowRemote { get; set; }

    /// <summary>Connections (C).</summary>
    public int Connections { get; set; } = 8;

    /// <summary>Requests outstanding per connection (P).</summary>
    public int Pipeline { get; set; } = 16;

    /// <summary>Measured duration in seconds (after the warm-up).</summary>
    public double DurationSeconds { get; set; } = 10;

    /// <summary>Warm-up in seconds: load is sent, nothing is recorded.</summary>
    public double WarmupSeconds { get; set; } = 2;

    /// <summary>Most requests sent in all (warm-up included); 0 = bounded by time only.</summary>
    public long MaxRequests { get; set; }

    /// <summary>Open loop at this many requests per second in total; 0 = closed loop (as fast as answers come).</summary>
    public double Rate { get; set; }

    /// <summary>
    /// Binary SELECT/SELECT_PAGE carry the request's intended send time (open loop: its due time) as the context's
    /// <c>timestamp_ms</c>, so a node with <c>ShedByClientTimestamp</c> counts the time a request waited on this side.
    /// </summary>
    public bool StampSendTime { get; set; }

    /// <summary>Driver threads; 0 = one per core, at most one per connection.</summary>
    public int Threads { get; set; }

    /// <summary>Open loop: a driver wakes to send at most once per this many microseconds.</summary>
    public double TickMicros { get; set; } = 50;

    /// <summary>Weight of SELECT in the mix.</summary>
    public int MixSelect { get; set; } = 100;

    /// <summary>Weight of SELECT_PAGE in the mix.</summary>
    public int MixPage { get; set; }

    /// <summary>Weight of REWARD in the mix (rewards go to event ids the server returned).</summary>
    public int MixReward { get; set; }

    /// <summary>Weight of PING in the mix (the protocol and I/O ceiling: no selection behind it).</summary>
    public int MixPing { get; set; }

    /// <summary>Titles per SELECT_PAGE.</summary>
    public int PageSize { get; set; } = 40;

    /// <summary>First title id of the catalog.</summary>
    public long TitleFirst { get; set; } = 1;

    /// <summary>Number of title ids.</summary>
    public long TitleCount { get; set; } = 10_000;

    /// <summary>First member id.</summary>
    public long MemberFirst { get; set; } = 1;

    /// <summary>Number of member ids.</summary>
    public long MemberCount { get; set; } = 100_000;

    /// <summary>Zipf exponent of title popularity (0 = uniform).</summary>
    public double TitleZipf { get; set; } = 1.0;

    /// <summary>Zipf exponent of member activity (0 = uniform).</summary>
    public double MemberZipf { get; set; }

    /// <summary>Seed of the draws (each connection derives its own).</summary>
    public ulong Seed { get; set; } = 6;

    /// <summary>Print a progress line every second.</summary>
    public bool Progress { get; set; } = true;

    /// <summary>Where to write report.json, report.md and latency.svg; null = no files.</summary>
    public string? OutputDirectory { get; set; }

    /// <summary>A label for the report.</summary>
    public string Name { get; set; } = "run";

    /// <summary>The usage text.</summary>
    public const string Usage = """
        edgeselector-load: drive an EdgeSelector node (binary protocol) or a RESP server with C connections x P requests in flight.

        usage: edgeselector-load [options]
          --host ADDR            target (default 127.0.0.1; must be loopback unless --allow-remote)
          --port N               default 7400 (binary), 6379 is Redis' default
          --protocol binary|resp default binary
          --resp-command get|art-select|ping   what a RESP run sends (default get: GET member:title)
          --allow-remote         allow a non-loopback target
          -c, --connections N    connections (default 8)
          -p, --pipeline N       requests in flight per connection (default 16)
          -d, --duration S       measured seconds after the warm-up (default 10, at most 3600)
          -w, --warmup S         warm-up seconds, not recorded (default 2)
          -n, --max-requests N   stop after N requests in all (default 0 = time only)
          --rate R               open loop at R requests/s in total, latency from the intended send time (default 0 = closed loop)
          --threads N            driver threads, each polling its share of the connections (default: one per core)
          --tick-us US           open loop: send at most once per US microseconds per thread (default 50)
          --stamp-send-time      binary: put each request's intended send time in its timestamp_ms (for ShedByClientTimestamp)
          --mix select=W,page=W,reward=W,ping=W   request mix by weight (default select=100)
          --page-size N          titles per SELECT_PAGE (default 40)
          --titles FIRST:COUNT   title id range (default 1:10000)
          --members FIRST:COUNT  member id range (default 1:100000)
          --title-zipf S         Zipf exponent of titles, 0 = uniform (default 1.0)
          --member-zipf S        Zipf exponent of members, 0 = uniform (default 0)
          --seed N               seed of the draws (default 6)
          --out DIR              write DIR/report.json, DIR/report.md, DIR/latency.svg
          --name LABEL           label of the run in the report
          --quiet                no progress line
          -h, --help             this text
        """;

    /// <summary>Parses and validates; throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static LoadOptions Parse(IReadOnlyList<string> args)
    {
        var o = new LoadOptions();
        bool portSet = false;
        for (var i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string Value()
            {
                if (i + 1 >= args.Count)
                {
                    throw new ArgumentException($"{arg} needs a value");
                }

                return args[++i];
            }

            switch (arg)
            {
                case "--host": o.Host = Value(); break;
                case "--port": o.Port = Int(arg, Value(), 1, 65535); portSet = true; break;
                case "--protocol": o.Protocol = Enum(arg, Value(), ("binary", TargetProtocol.Binary), ("resp", TargetProtocol.Resp)); break;
                case "--resp-command":
                    o.RespCommand = Enum(arg, Value(), ("get", RespCommand.Get), ("art-select", RespCommand.ArtSelect), ("ping", RespCommand.Ping));
                    break;
                case "--allow-remote": o.AllowRemote = true; break;
                case "-c" or "--connections": o.Connections = Int(arg, Value(), 1, 1024); break;
                case "-p" or "--pipeline": o.Pipeline = Int(arg, Value(), 1, 4096); break;
                case "-d" or "--duration": o.DurationSeconds = Double(arg, Value(), 0.1, MaxDurationSeconds); break;
                case "-w" or "--warmup": o.WarmupSeconds = Double(arg, Value(), 0, 600); break;
                case "-n" or "--max-requests": o.MaxRequests = Long(arg, Value(), 0, long.MaxValue); break;
                case "--rate": o.Rate = Double(arg, Value(), 0, 1e9); break;
                case "--threads": o.Threads = Int(arg, Value(), 0, 1024); break;
                case "--tick-us": o.TickMicros = Double(arg, Value(), 1, 100_000); break;
                case "--stamp-send-time": o.StampSendTime = true; break;
                case "--mix": ParseMix(o, Value()); break;
                case "--page-size": o.PageSize = Int(arg, Value(), 1, 10_000); break;
                case "--titles": (o.TitleFirst, o.TitleCount) = Range(arg, Value(), uint.MaxValue); break;
                case "--members": (o.MemberFirst, o.MemberCount) = Range(arg, Value(), long.MaxValue); break;
                case "--title-zipf": o.TitleZipf = Double(arg, Value(), 0, 10); break;
                case "--member-zipf": o.MemberZipf = Double(arg, Value(), 0, 10); break;
                case "--seed": o.Seed = (ulong)Long(arg, Value(), 0, long.MaxValue); break;
                case "--out": o.OutputDirectory = Value(); break;
                case "--name": o.Name = Value(); break;
                case "--quiet": o.Progress = false; break;
                default: throw new ArgumentException($"unknown option '{arg}' (--help lists them)");
            }
        }

        if (!portSet && o.Protocol == TargetProtocol.Resp)
        {
            o.Port = 6379;
        }

        o.Validate();
        return o;
    }

    /// <summary>Checks the combination of options; throws <see cref="ArgumentException"/>.</summary>
    public void Validate()
    {
        if (MixSelect + MixPage + MixReward + MixPing <= 0)
        {
            throw new ArgumentException("--mix needs at least one positive weight");
        }

        if (MixReward > 0 && MixSelect + MixPage == 0)
        {
            throw new ArgumentException("--mix with rewards also needs select or page: rewards go to event ids the server returned");
        }

        if (Protocol == TargetProtocol.Resp && (MixPage > 0 || MixReward > 0 || MixPing > 0))
        {
            throw new ArgumentException("--protocol resp sends one command (--resp-command); --mix applies to the binary protocol only");
        }

        if (!AllowRemote && !IsLoopback(Host))
        {
            throw new ArgumentException($"--host {Host} is not a loopback address; pass --allow-remote to load another machine");
        }
    }

    /// <summary>Resolves <see cref="Host"/>.</summary>
    public IPAddress ResolveHost()
    {
        if (IPAddress.TryParse(Host, out var address))
        {
            return address;
        }

        return Dns.GetHostAddresses(Host).FirstOrDefault() ?? throw new ArgumentException($"cannot resolve --host {Host}");
    }

    private static bool IsLoopback(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address);
    }

    private static void ParseMix(LoadOptions o, string value)
    {
        o.MixSelect = o.MixPage = o.MixReward = o.MixPing = 0;
        foreach (string part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=');
            if (kv.Length != 2)
            {
                throw new ArgumentException($"--mix: '{part}' is not name=weight");
            }

            int weight = Int("--mix " + kv[0], kv[1], 0, 1_000_000);
            switch (kv[0])
            {
                case "select": o.MixSelect = weight; break;
                case "page": o.MixPage = weight; break;
                case "reward": o.MixReward = weight; break;
                case "ping": o.MixPing = weight; break;
                default: throw new ArgumentException($"--mix: unknown request '{kv[0]}' (select, page, reward, ping)");
            }
        }
    }

    private static (long First, long Count) Range(string name, string value, long max)
    {
        var parts = value.Split(':');
        if (parts.Length != 2)
        {
            throw new ArgumentException($"{name} expects FIRST:COUNT, got '{value}'");
        }

        long first = Long(name, parts[0], 0, max);
        long count = Long(name, parts[1], 1, max);
        if (first + count - 1 > max)
        {
            throw new ArgumentException($"{name} {value}: the last id exceeds {max}");
        }

        return (first, count);
    }

    private static T Enum<T>(string name, string value, params (string Name, T Value)[] choices)
    {
        foreach (var (n, v) in choices)
        {
            if (string.Equals(n, value, StringComparison.OrdinalIgnoreCase))
            {
                return v;
            }
        }

        throw new ArgumentException($"{name}: '{value}' is not one of {string.Join(", ", choices.Select(c => c.Name))}");
    }

    private static int Int(string name, string value, int min, int max) => (int)Long(name, value, min, max);

    private static long Long(string name, string value, long min, long max)
    {
        if (!long.TryParse(value.Replace("_", string.Empty, StringComparison.Ordinal), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) || n < min || n > max)
        {
            throw new ArgumentException($"{name}: '{value}' is not an integer in [{min}, {max}]");
        }

        return n;
    }

    private static double Double(string name, string value, double min, double max)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || d < min || d > max || double.IsNaN(d))
        {
            throw new ArgumentException($"{name}: '{value}' is not a number in [{min}, {max}]");
        }

        return d;
    }
}
