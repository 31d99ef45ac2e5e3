using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.IO.Pipelines;
using EdgeSelector.Protocol.Resp;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Resp;

/// <summary>
/// The RESP2 subset on one connection (docs/resp.md): reads each whole command (<see cref="RespCommandReader"/>),
/// parses its name to a <see cref="RespCommand"/> and switches on it; the command families live in their own files
/// (<c>RespSession.ArtCommands.cs</c>, <c>RespSession.ServerCommands.cs</c>), as Garnet's <c>RespServerSession</c>
/// does. Parsing works on the pipe's first segment, or on a copy of just enough of the input when a command spans
/// segments; a command larger than <c>MaxFrameBytes</c> is refused and the connection closed.
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
    private byte[]? _scratch;
    private byte _hour;
    private byte _dayOfWeek;

    public RespSession(ServingSession serving, PipeWriter output, ServerMetrics metrics, int maxTitlesPerPage, int maxCommandBytes, int maxInFlight)
    {
        _serving = serving;
        _output = output;
        _metrics = metrics;
        _maxCommandBytes = maxCommandBytes;
        _maxInFlight = maxInFlight;
        _starts = new int[maxTitlesPerPage + 16];
        _lengths = new int[maxTitlesPerPage + 16];
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
            while (true)
            {
                if (completed >= _maxInFlight)
                {
                    return BatchOutcome.Paused;
                }

                if (buffer.IsEmpty)
                {
                    return BatchOutcome.Done;
                }

                var data = buffer.FirstSpan;
                var status = RespCommandReader.TryRead(data, _starts, _lengths, out var argc, out var used);
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
                        if (buffer.Length >= _maxCommandBytes)
                        {
                            _metrics.ProtocolError();
                            RespWriter.WriteError(_output, "ERR command too large (the limit is EdgeSelector:MaxFrameBytes)"u8);
                            return BatchOutcome.Close;
                        }

                        return BatchOutcome.Done;
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

    public void OnClosed()
    {
    }

    // Returns false to close the connection after the reply.
    private bool Execute(ReadOnlySpan<byte> command, int argc)
    {
        var start = Stopwatch.GetTimestamp();
        switch (RespNames.Command(Arg(command, 0)))
        {
            case RespCommand.Get:
                Get(command, argc);
                _metrics.Request(RequestKind.Select, start);
                return true;
            case RespCommand.ArtSelect:
                ArtSelect(command, argc);
                _metrics.Request(RequestKind.Select, start);
                return true;
            case RespCommand.ArtPage:
                ArtPage(command, argc);
                _metrics.Request(RequestKind.SelectPage, start);
                return true;
            case RespCommand.Ping:
                Ping(command, argc);
                _metrics.Request(RequestKind.Ping, start);
                return true;
            case RespCommand.Hello:
                Hello(command, argc);
                return true;
            case RespCommand.Command:
            case RespCommand.Config:
                RespWriter.WriteArrayHeader(_output, 0); // nothing to describe: clients fall back to their defaults
                return true;
            case RespCommand.Client:
            case RespCommand.Select:
                RespWriter.WriteSimpleString(_output, "OK"u8);
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
            status = RespCommandReader.TryRead(data, _starts, _lengths, out argc, out used);
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
