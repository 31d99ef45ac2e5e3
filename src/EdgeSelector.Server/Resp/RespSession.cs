using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using EdgeSelector.Protocol.Resp;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Resp;

/// <summary>
/// The RESP2 subset on one connection (docs/resp.md): reads each whole command (<see cref="RespCommandReader"/>, or
/// <see cref="RespInlineReader"/> for an inline command typed by an operator; <c>*0</c> is skipped, as in Redis),
/// parses its name to a <see cref="RespCommand"/> and switches on it; the command families live in their own files
/// (<c>RespSession.ArtCommands.cs</c>, <c>RespSession.ServerCommands.cs</c>, <c>RespSession.ClientCommands.cs</c>), as Garnet's <c>RespServerSession</c>
/// does. Parsing works on the pipe's first segment, or on a copy of just enough of the input when a command spans
/// segments. A command longer than <c>RespMaxCommandBytes</c> is answered <c>-ERR command too large</c> in its turn
/// and discarded as it streams in (<see cref="RespCommandSkipper"/>): the connection stays (docs/resp.md#limits).
/// Before the commands of a batch are answered, the profiles their members need are read together
/// (<c>ReadProfilesAhead</c>, in <c>RespSession.ArtCommands.cs</c>).
/// </summary>
internal sealed partial class RespSession : IPipelinedSession
{
    private readonly ServingSession _serving;
    private readonly PipeWriter _output;
    private readonly ServerMetrics _metrics;
    private readonly int _maxCommandBytes;
    private readonly int _maxInFlight;
    private readonly int[] _starts;
    private readonly int[] _lengths;
    private readonly byte[] _tooLarge;
    private readonly RespServerInfo _info;
    private readonly long _clientId;
    private RespCommandSkipper _skipper;
    private bool _skipping;
    private byte[]? _scratch;
    private byte[]? _inline;
    private byte _hour;
    private byte _dayOfWeek;

    public RespSession(ServingSession serving, PipeWriter output, ServerMetrics metrics, int maxTitlesPerPage, int maxCommandBytes, int maxInFlight, RespServerInfo info, long clientId)
    {
        _info = info;
        _clientId = clientId;
        _serving = serving;
        _output = output;
        _metrics = metrics;
        _maxCommandBytes = maxCommandBytes;
        _maxInFlight = maxInFlight;
        _starts = new int[maxTitlesPerPage + 16];
        _lengths = new int[maxTitlesPerPage + 16];
        _tooLarge = System.Text.Encoding.ASCII.GetBytes($"ERR command too large: more than {maxCommandBytes} bytes (RespMaxCommandBytes)");
    }

    public BatchOutcome Process(ref ReadOnlySequence<byte> buffer, in Batch batch, out int completed)
    {
        completed = 0;
        _serving.BeginBatch(in batch);
        try
        {
            var now = DateTime.UtcNow;
            _hour = (byte)now.Hour;
            _dayOfWeek = (byte)now.DayOfWeek;
            var ahead = 0; // commands whose profiles were read ahead
            while (true)
            {
                if (completed >= _maxInFlight)
                {
                    return BatchOutcome.Paused;
                }

                if (_skipping && !Skip(ref buffer, out var close))
                {
                    return close ? BatchOutcome.Close : BatchOutcome.Done;
                }

                if (buffer.IsEmpty)
                {
                    return BatchOutcome.Done;
                }

                if (buffer.FirstSpan.IsEmpty)
                {
                    // An empty first segment (the input goes on in the next one): step over it.
                    var next = buffer.Start;
                    buffer.TryGet(ref next, out _);
                    buffer = buffer.Slice(next);
                    continue;
                }

                if (completed >= ahead)
                {
                    ahead = completed + ReadProfilesAhead(buffer.FirstSpan, _maxInFlight - completed);
                }

                var data = buffer.FirstSpan;
                if (data[0] is (byte)'\r' or (byte)'\n')
                {
                    // An empty line between commands: Redis ignores it (an empty inline command), and redis-cli --pipe
                    // sends one before the ECHO that closes its batch.
                    var blank = data.IndexOfAnyExcept("\r\n"u8);
                    buffer = buffer.Slice(blank < 0 ? data.Length : blank);
                    continue;
                }

                if (data[0] != (byte)'*')
                {
                    if (!ProcessInline(ref buffer, ref completed, out var closeAfter))
                    {
                        return closeAfter ? BatchOutcome.Close : BatchOutcome.Done;
                    }

                    continue;
                }

                var status = RespCommandReader.TryRead(data, _starts, _lengths, _maxCommandBytes, out var argc, out var used);
                if (status == RespReadStatus.Incomplete && !buffer.IsSingleSegment)
                {
                    data = ReadAcrossSegments(in buffer, out status, out argc, out used);
                }

                switch (status)
                {
                    case RespReadStatus.Command:
                        var keep = Execute(data[..used], argc);
                        buffer = buffer.Slice(used);
                        completed++;
                        if (!keep)
                        {
                            return BatchOutcome.Close;
                        }

                        continue;
                    case RespReadStatus.Incomplete:
                        return BatchOutcome.Done;
                    case RespReadStatus.Empty:
                        // "*0\r\n": skipped without a reply, as Redis skips it.
                        buffer = buffer.Slice(used);
                        continue;
                    case RespReadStatus.TooLarge:
                        // Answered in its turn like any failed command, then discarded as it streams in: the
                        // connection stays (an 82 KB command used to close it under an undocumented 64 KB cap).
                        _metrics.ProtocolError();
                        RespWriter.WriteError(_output, _tooLarge);
                        _skipper = RespCommandSkipper.Start();
                        _skipping = true;
                        completed++;
                        continue;
                    case RespReadStatus.TooManyArguments:
                        _metrics.ProtocolError();
                        RespWriter.WriteError(_output, "ERR too many arguments"u8);
                        return BatchOutcome.Close;
                    default:
                        _metrics.ProtocolError();
                        RespWriter.WriteError(_output, "ERR Protocol error: expected an array of bulk strings"u8);
                        return BatchOutcome.Close;
                }
            }
        }
        finally
        {
            _serving.EndBatch();
        }
    }

    public bool WantsWake(long now) => false;

    public ValueTask FinishAsync() => ValueTask.CompletedTask;

    public void WriteGoodbye(CloseReason reason) => RespWriter.WriteError(_output, reason switch
    {
        CloseReason.ShuttingDown => "ERR server shutting down"u8,
        CloseReason.FrameTimeout => "ERR command timeout"u8,
        _ => "ERR idle timeout"u8,
    });

    public void OnClosed() => _serving.Dispose();

    // Returns false to close the connection after the reply.
    private bool Execute(ReadOnlySpan<byte> command, int argc)
    {
        switch (RespNames.Command(Arg(command, 0)))
        {
            case RespCommand.Get:
                Get(command, argc);
                _serving.Count(RequestKind.Select);
                return true;
            case RespCommand.ArtSelect:
                ArtSelect(command, argc);
                _serving.Count(RequestKind.Select);
                return true;
            case RespCommand.ArtPage:
                ArtPage(command, argc);
                _serving.Count(RequestKind.SelectPage);
                return true;
            case RespCommand.Ping:
                Ping(command, argc);
                _serving.Count(RequestKind.Ping);
                return true;
            case RespCommand.Hello:
                Hello(command, argc);
                return true;
            case RespCommand.Info:
                Info(command, argc);
                return true;
            case RespCommand.Command:
                Command(command, argc);
                return true;
            case RespCommand.Config:
                Config(command, argc);
                return true;
            case RespCommand.Client:
                Client(command, argc);
                return true;
            case RespCommand.Select:
                Select(command, argc);
                return true;
            case RespCommand.Echo:
                Echo(command, argc);
                return true;
            case RespCommand.Auth:
                Auth(argc);
                return true;
            case RespCommand.Cluster:
                Cluster();
                return true;
            case RespCommand.Quit:
                RespWriter.WriteSimpleString(_output, "OK"u8);
                return false;
            default:
                _metrics.ProtocolError();
                RespWriter.WriteError(_output, "ERR unknown command"u8);
                return true;
        }
    }

    // An inline command (docs/resp.md#input): one line of words, what an operator types into telnet or nc. Answered
    // like its array form from the words unescaped into _inline (a buffer of the connection's, grown to the longest
    // line seen, at most RespMaxCommandBytes). True to go on with the batch; false when the line is not whole yet or,
    // with close set, after an error that closes the connection (as Redis closes it).
    private bool ProcessInline(ref ReadOnlySequence<byte> buffer, ref int completed, out bool close)
    {
        close = false;
        var status = RespInlineReader.TryFindLine(buffer.FirstSpan, _maxCommandBytes, out var lineLength, out var used);
        var line = buffer.FirstSpan;
        if (status == RespReadStatus.Incomplete && !buffer.IsSingleSegment)
        {
            line = LineAcrossSegments(in buffer, out status, out lineLength, out used);
        }

        var argc = 0;
        if (status == RespReadStatus.Command)
        {
            if (_inline is null || _inline.Length < lineLength)
            {
                _inline = new byte[Math.Min(_maxCommandBytes, Math.Max(lineLength, Math.Max(256, 2 * (_inline?.Length ?? 0))))];
            }

            status = RespInlineReader.Split(line[..lineLength], _inline, _starts, _lengths, out argc);
        }

        switch (status)
        {
            case RespReadStatus.Command:
                buffer = buffer.Slice(used);
                if (argc == 0)
                {
                    return true; // a blank line: nothing to answer
                }

                completed++;
                close = !Execute(_inline, argc);
                return !close;
            case RespReadStatus.Incomplete:
                return false;
            case RespReadStatus.TooLarge:
                return Refuse("ERR Protocol error: too big inline request"u8, out close);
            case RespReadStatus.UnbalancedQuotes:
                return Refuse("ERR Protocol error: unbalanced quotes in request"u8, out close);
            case RespReadStatus.TooManyArguments:
                return Refuse("ERR too many arguments"u8, out close);
            default:
                return Refuse("ERR Protocol error: argument longer than 4096 bytes"u8, out close);
        }
    }

    private bool Refuse(ReadOnlySpan<byte> error, out bool close)
    {
        _metrics.ProtocolError();
        RespWriter.WriteError(_output, error);
        close = true;
        return false;
    }

    // Rare: an inline line across pipe segments. Finds its LF in the sequence, then copies just the line.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private ReadOnlySpan<byte> LineAcrossSegments(scoped in ReadOnlySequence<byte> buffer, out RespReadStatus status, out int lineLength, out int used)
    {
        lineLength = 0;
        used = 0;
        var window = buffer.Slice(0, Math.Min(buffer.Length, _maxCommandBytes));
        var lf = window.PositionOf((byte)'\n');
        if (lf is null)
        {
            status = buffer.Length >= _maxCommandBytes ? RespReadStatus.TooLarge : RespReadStatus.Incomplete;
            return default;
        }

        var n = (int)window.Slice(0, lf.Value).Length + 1;
        if (_scratch is null || _scratch.Length < n)
        {
            _scratch = new byte[Math.Min(_maxCommandBytes, Math.Max(n, 2 * (_scratch?.Length ?? 0)))];
        }

        var data = _scratch.AsSpan(0, n);
        window.Slice(0, n).CopyTo(data);
        status = RespInlineReader.TryFindLine(data, _maxCommandBytes, out lineLength, out used);
        return data;
    }

    // Discards the rest of a command answered "too large". True once its last byte is skipped; false when the input ran
    // out first (keep skipping on the next read) or, with close set, when it turned out not to be RESP.
    private bool Skip(ref ReadOnlySequence<byte> buffer, out bool close)
    {
        close = false;
        Span<byte> line = stackalloc byte[32];
        while (!buffer.IsEmpty)
        {
            var first = buffer.FirstSpan;
            var status = _skipper.Skip(first, out var skipped);
            if (status == RespReadStatus.Incomplete && skipped < first.Length && !buffer.IsSingleSegment)
            {
                // A length line cut at the segment's end: skip it from a copy across the boundary (a valid line is at
                // most 23 bytes: '$', 20 digits, CRLF).
                var n = (int)Math.Min(buffer.Length - skipped, line.Length);
                buffer.Slice(skipped, n).CopyTo(line);
                status = _skipper.Skip(line[..n], out var more);
                skipped += more;
                if (status == RespReadStatus.Incomplete && more == 0)
                {
                    status = n == line.Length ? RespReadStatus.Malformed : status;
                }
            }

            buffer = buffer.Slice(skipped);
            switch (status)
            {
                case RespReadStatus.Command:
                    _skipping = false;
                    return true;
                case RespReadStatus.Incomplete when skipped > 0:
                    continue;
                case RespReadStatus.Incomplete:
                    return false;
                default:
                    _skipping = false;
                    _metrics.ProtocolError();
                    RespWriter.WriteError(_output, "ERR Protocol error: expected an array of bulk strings"u8);
                    close = true;
                    return false;
            }
        }

        return false;
    }

    // Rare: a command across pipe segments. Copies a prefix of the input, twice as long each time, until a whole
    // command fits or the limit is reached, so a batch of small commands never copies more than it parses.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private ReadOnlySpan<byte> ReadAcrossSegments(scoped in ReadOnlySequence<byte> buffer, out RespReadStatus status, out int argc, out int used)
    {
        var length = (int)Math.Min(buffer.Length, _maxCommandBytes);
        var n = Math.Min(length, Math.Max(2 * buffer.FirstSpan.Length, 1024));
        while (true)
        {
            if (_scratch is null || _scratch.Length < n)
            {
                _scratch = new byte[Math.Min(_maxCommandBytes, Math.Max(n, 2 * (_scratch?.Length ?? 0)))];
            }

            var data = _scratch.AsSpan(0, n);
            buffer.Slice(0, n).CopyTo(data);
            status = RespCommandReader.TryRead(data, _starts, _lengths, _maxCommandBytes, out argc, out used);
            if (status != RespReadStatus.Incomplete || n == length)
            {
                return data;
            }

            n = Math.Min(length, 2 * n);
        }
    }

    private ReadOnlySpan<byte> Arg(ReadOnlySpan<byte> command, int i) => command.Slice(_starts[i], _lengths[i]);

    private static bool TryParse(ReadOnlySpan<byte> digits, out ulong value) =>
        Utf8Parser.TryParse(digits, out value, out var used) && used == digits.Length && used > 0;
}
