using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using EdgeSelector.Core.Features;
using EdgeSelector.Protocol;
using EdgeSelector.Protocol.Resp;
using EdgeSelector.Server.Metrics;
using EdgeSelector.Server.Serving;
using Microsoft.AspNetCore.Connections;

namespace EdgeSelector.Server.Resp;

/// <summary>
/// The RESP front door (docs/resp.md), off unless <c>EdgeSelector:RespPort</c> is set: a RESP2 subset so Redis
/// tools (redis-cli, redis-benchmark) and Redis clients can ask for artwork. Same shape as the binary handler:
/// every whole command of a read is answered into the output pipe, then one flush. Parsing works on the pipe's
/// first segment (or a per-connection copy when a read spans segments); answering goes through the same
/// <see cref="SelectionService"/> as the binary protocol.
/// </summary>
internal sealed class RespConnectionHandler(ServerState state, IHostApplicationLifetime lifetime) : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var output = connection.Transport.Output;
        var input = connection.Transport.Input;
        if (!state.Metrics.TryOpenConnection(state.Options.MaxConnections))
        {
            RespWriter.WriteError(output, "ERR max number of clients reached"u8);
            await output.FlushAsync();
            return;
        }

        var session = new RespSession(state, output);
        var stopping = lifetime.ApplicationStopping;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                ReadResult result;
                try
                {
                    result = await input.ReadAsync(stopping);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                var buffer = result.Buffer;
                var outcome = session.Process(in buffer, out long consumed);
                var position = buffer.GetPosition(consumed);
                input.AdvanceTo(position, outcome == RespOutcome.Paused ? position : buffer.End);
                var flush = await output.FlushAsync();
                if (outcome == RespOutcome.Close || flush.IsCompleted || (result.IsCompleted && outcome != RespOutcome.Paused))
                {
                    break;
                }
            }
        }
        catch (ConnectionResetException)
        {
        }
        catch (IOException)
        {
        }
        finally
        {
            state.Metrics.CloseConnection();
        }
    }
}

/// <summary>How a RESP batch ended.</summary>
internal enum RespOutcome : byte
{
    /// <summary>Every whole command was answered.</summary>
    Done = 0,
    /// <summary>Stopped early (in-flight limit, or the copied part of a multi-segment read ran out): continue at once.</summary>
    Paused,
    /// <summary>Unreadable input or QUIT was answered: close.</summary>
    Close,
}

/// <summary>Per-connection scratch and the command implementations.</summary>
internal sealed class RespSession(ServerState state, PipeWriter output)
{
    // A command across pipe segments is parsed from a copy; the copy grows up to the command limit only when a command
    // needs it (most connections never copy more than 64 KiB).
    private const int InitialScratchBytes = 64 * 1024;
    private readonly int _maxCommandBytes = state.Options.RespMaxCommandBytes;
    private readonly byte[] _tooLarge = Encoding.ASCII.GetBytes($"ERR command too large: more than {state.Options.RespMaxCommandBytes} bytes (RespMaxCommandBytes)");
    private RespCommandSkipper _skipper;
    private bool _skipping;
    private readonly int[] _starts = new int[state.Options.MaxTitlesPerPage + 16];
    private readonly int[] _lengths = new int[state.Options.MaxTitlesPerPage + 16];
    private readonly TitleCandidate[] _titles = new TitleCandidate[state.Options.MaxTitlesPerPage];
    private readonly SelectResult[] _results = new SelectResult[state.Options.MaxTitlesPerPage];
    private byte[]? _scratch;
    private byte _hour;
    private byte _dayOfWeek;

    public RespOutcome Process(in ReadOnlySequence<byte> buffer, out long consumed)
    {
        consumed = 0;
        ReadOnlySpan<byte> data;
        bool partial = false;
        if (buffer.IsSingleSegment)
        {
            data = buffer.FirstSpan;
        }
        else
        {
            // Rare (a command across two pipe segments): parse a copy of the start of the buffer.
            _scratch ??= new byte[Math.Min(InitialScratchBytes, _maxCommandBytes)];
            int n = (int)Math.Min(buffer.Length, _scratch.Length);
            buffer.Slice(0, n).CopyTo(_scratch);
            data = _scratch.AsSpan(0, n);
            partial = n < buffer.Length;
        }

        var now = DateTime.UtcNow;
        _hour = (byte)now.Hour;
        _dayOfWeek = (byte)now.DayOfWeek;
        int offset = 0;
        int answered = 0;
        while (true)
        {
            if (answered >= state.Options.MaxInFlightPerConnection)
            {
                consumed = offset;
                return RespOutcome.Paused;
            }

            if (_skipping)
            {
                // The rest of a command answered "too large": discard it as it arrives (docs/resp.md#input).
                var skipped = _skipper.Skip(data[offset..], out int skippedBytes);
                offset += skippedBytes;
                if (skipped == RespReadStatus.Incomplete)
                {
                    consumed = offset;
                    return partial ? RespOutcome.Paused : RespOutcome.Done;
                }

                _skipping = false;
                if (skipped == RespReadStatus.Malformed)
                {
                    state.Metrics.ProtocolError();
                    RespWriter.WriteError(output, "ERR Protocol error: expected an array of bulk strings"u8);
                    consumed = offset;
                    return RespOutcome.Close;
                }

                continue;
            }

            var status = RespCommandReader.TryRead(data[offset..], _starts, _lengths, _maxCommandBytes, out int argc, out int used);
            switch (status)
            {
                case RespReadStatus.Command:
                    bool keep = Execute(data.Slice(offset, used), argc);
                    offset += used;
                    answered++;
                    if (!keep)
                    {
                        consumed = offset;
                        return RespOutcome.Close;
                    }

                    continue;
                case RespReadStatus.Incomplete:
                    consumed = offset;
                    if (partial && offset == 0)
                    {
                        // The command is within the limit but longer than the copy: copy more next time.
                        Array.Resize(ref _scratch, (int)Math.Min(_maxCommandBytes, 2L * _scratch!.Length));
                    }

                    return partial ? RespOutcome.Paused : RespOutcome.Done;
                case RespReadStatus.TooLarge:
                    // Answered in order like any failed command, then skipped as it streams in: the connection stays.
                    state.Metrics.ProtocolError();
                    RespWriter.WriteError(output, _tooLarge);
                    _skipper = RespCommandSkipper.Start();
                    _skipping = true;
                    answered++;
                    continue;
                case RespReadStatus.TooManyArguments:
                    state.Metrics.ProtocolError();
                    RespWriter.WriteError(output, "ERR too many arguments"u8);
                    consumed = offset;
                    return RespOutcome.Close;
                default:
                    state.Metrics.ProtocolError();
                    RespWriter.WriteError(output, "ERR Protocol error: expected an array of bulk strings"u8);
                    consumed = offset;
                    return RespOutcome.Close;
            }
        }
    }

    // Returns false to close the connection after the reply.
    private bool Execute(ReadOnlySpan<byte> command, int argc)
    {
        var start = Stopwatch.GetTimestamp();
        ReadOnlySpan<byte> name = Arg(command, 0);
        if (Ascii.EqualsIgnoreCase(name, "GET"u8))
        {
            Get(command, argc);
            state.Metrics.Request(RequestKind.Select, start);
        }
        else if (Ascii.EqualsIgnoreCase(name, "ART.SELECT"u8))
        {
            ArtSelect(command, argc);
            state.Metrics.Request(RequestKind.Select, start);
        }
        else if (Ascii.EqualsIgnoreCase(name, "ART.PAGE"u8))
        {
            ArtPage(command, argc);
            state.Metrics.Request(RequestKind.SelectPage, start);
        }
        else if (Ascii.EqualsIgnoreCase(name, "PING"u8))
        {
            if (argc > 1)
            {
                RespWriter.WriteBulkString(output, Arg(command, 1));
            }
            else
            {
                RespWriter.WriteSimpleString(output, "PONG"u8);
            }

            state.Metrics.Request(RequestKind.Ping, start);
        }
        else if (Ascii.EqualsIgnoreCase(name, "HELLO"u8))
        {
            Hello(command, argc);
        }
        else if (Ascii.EqualsIgnoreCase(name, "COMMAND"u8) || Ascii.EqualsIgnoreCase(name, "CONFIG"u8))
        {
            RespWriter.WriteArrayHeader(output, 0); // nothing to describe: clients fall back to their defaults
        }
        else if (Ascii.EqualsIgnoreCase(name, "CLIENT"u8) || Ascii.EqualsIgnoreCase(name, "SELECT"u8))
        {
            RespWriter.WriteSimpleString(output, "OK"u8);
        }
        else if (Ascii.EqualsIgnoreCase(name, "QUIT"u8))
        {
            RespWriter.WriteSimpleString(output, "OK"u8);
            return false;
        }
        else
        {
            state.Metrics.ProtocolError();
            RespWriter.WriteError(output, "ERR unknown command"u8);
        }

        return true;
    }

    // GET <member>:<title> -> the image id as a bulk string (nil when no artwork is known)
    private void Get(ReadOnlySpan<byte> command, int argc)
    {
        ReadOnlySpan<byte> key = argc == 2 ? Arg(command, 1) : default;
        int colon = key.IndexOf((byte)':');
        if (colon <= 0 || !TryParse(key[..colon], out ulong member) || !TryParse(key[(colon + 1)..], out ulong title) || title > uint.MaxValue)
        {
            RespWriter.WriteError(output, "ERR key must be <member>:<title>"u8);
            return;
        }

        var context = Context(member);
        var result = SelectOne(in context, (uint)title);
        if (result.ImageId == SelectResult.NoArtwork)
        {
            RespWriter.WriteNil(output);
        }
        else
        {
            RespWriter.WriteBulkNumber(output, result.ImageId);
        }
    }

    // ART.SELECT <title> <member> [COUNTRY cc] [LANGUAGE ll] [DEVICE n] [HOUR h] [DOW d] [WITHMETA]
    private void ArtSelect(ReadOnlySpan<byte> command, int argc)
    {
        if (argc < 3 || !TryParse(Arg(command, 1), out ulong title) || title > uint.MaxValue || !TryParse(Arg(command, 2), out ulong member))
        {
            RespWriter.WriteError(output, "ERR usage: ART.SELECT <title> <member> [field value ...] [WITHMETA]"u8);
            return;
        }

        var context = Context(member);
        bool withMeta = false;
        for (int i = 3; i < argc; i++)
        {
            ReadOnlySpan<byte> field = Arg(command, i);
            if (Ascii.EqualsIgnoreCase(field, "WITHMETA"u8))
            {
                withMeta = true;
                continue;
            }

            if (i + 1 >= argc || !TrySetField(ref context, field, Arg(command, ++i)))
            {
                RespWriter.WriteError(output, "ERR bad field: COUNTRY cc, LANGUAGE ll, DEVICE 0-5, HOUR 0-23, DOW 0-6, WITHMETA"u8);
                return;
            }
        }

        var result = SelectOne(in context, (uint)title);
        if (!withMeta)
        {
            RespWriter.WriteInteger(output, result.ImageId);
            return;
        }

        // [image, event id, propensity, reason, event tag]
        RespWriter.WriteArrayHeader(output, 5);
        RespWriter.WriteInteger(output, result.ImageId);
        RespWriter.WriteBulkNumber(output, result.EventId);
        RespWriter.WriteBulkFloat(output, result.Propensity);
        RespWriter.WriteInteger(output, (long)result.Reason);
        RespWriter.WriteBulkNumber(output, result.EventTag);
    }

    // ART.PAGE <member> <title> [<title> ...] -> an array of image ids, one per title, in order
    private void ArtPage(ReadOnlySpan<byte> command, int argc)
    {
        int count = argc - 2;
        if (argc < 3 || !TryParse(Arg(command, 1), out ulong member))
        {
            RespWriter.WriteError(output, "ERR usage: ART.PAGE <member> <title> [<title> ...]"u8);
            return;
        }

        if (count > _titles.Length)
        {
            RespWriter.WriteError(output, "ERR too many titles in the page"u8);
            return;
        }

        for (int i = 0; i < count; i++)
        {
            if (!TryParse(Arg(command, i + 2), out ulong title) || title > uint.MaxValue)
            {
                RespWriter.WriteError(output, "ERR title ids are unsigned 32-bit integers"u8);
                return;
            }

            _titles[i] = new TitleCandidate((uint)title, 0f, false);
        }

        var context = Context(member);
        var results = _results.AsSpan(0, count);
        state.Selection.Select(in context, _titles.AsSpan(0, count), results);
        RespWriter.WriteArrayHeader(output, count);
        foreach (ref readonly var result in results)
        {
            RespWriter.WriteInteger(output, result.ImageId);
        }
    }

    private void Hello(ReadOnlySpan<byte> command, int argc)
    {
        if (argc > 1 && !Arg(command, 1).SequenceEqual("2"u8))
        {
            RespWriter.WriteError(output, "NOPROTO sorry, this protocol version is not supported"u8);
            return;
        }

        // RESP2 has no map type: the HELLO reply is a flat array of field, value pairs.
        RespWriter.WriteArrayHeader(output, 14);
        RespWriter.WriteBulkString(output, "server"u8);
        RespWriter.WriteBulkString(output, "edgeselector"u8);
        RespWriter.WriteBulkString(output, "version"u8);
        RespWriter.WriteBulkString(output, "1.0.0"u8);
        RespWriter.WriteBulkString(output, "proto"u8);
        RespWriter.WriteInteger(output, 2);
        RespWriter.WriteBulkString(output, "id"u8);
        RespWriter.WriteInteger(output, 1);
        RespWriter.WriteBulkString(output, "mode"u8);
        RespWriter.WriteBulkString(output, "standalone"u8);
        RespWriter.WriteBulkString(output, "role"u8);
        RespWriter.WriteBulkString(output, "master"u8);
        RespWriter.WriteBulkString(output, "modules"u8);
        RespWriter.WriteArrayHeader(output, 0);
    }

    private SelectResult SelectOne(in RequestContext context, uint title)
    {
        var candidate = new TitleCandidate(title, 0f, false);
        var result = _results.AsSpan(0, 1);
        state.Selection.Select(in context, new ReadOnlySpan<TitleCandidate>(in candidate), result);
        return result[0];
    }

    // Country, language and device come from the stored profile unless the command sets them; hour and day from the
    // server's UTC clock.
    private RequestContext Context(ulong member) => new()
    {
        MemberId = member,
        HourOfDay = _hour,
        DayOfWeek = _dayOfWeek,
    };

    private static bool TrySetField(ref RequestContext context, ReadOnlySpan<byte> field, ReadOnlySpan<byte> value)
    {
        if (Ascii.EqualsIgnoreCase(field, "COUNTRY"u8) || Ascii.EqualsIgnoreCase(field, "LANGUAGE"u8))
        {
            if (value.Length != 2 || !char.IsAsciiLetter((char)value[0]) || !char.IsAsciiLetter((char)value[1]))
            {
                return false;
            }

            var packed = (ushort)((char.ToUpperInvariant((char)value[0]) << 8) | char.ToUpperInvariant((char)value[1]));
            if (Ascii.EqualsIgnoreCase(field, "COUNTRY"u8))
            {
                context.Country = packed;
            }
            else
            {
                context.Language = packed;
            }

            return true;
        }

        if (!TryParse(value, out ulong n))
        {
            return false;
        }

        if (Ascii.EqualsIgnoreCase(field, "DEVICE"u8) && n <= 5)
        {
            context.Device = (DeviceClass)n;
            return true;
        }

        if (Ascii.EqualsIgnoreCase(field, "HOUR"u8) && n <= 23)
        {
            context.HourOfDay = (byte)n;
            return true;
        }

        if (Ascii.EqualsIgnoreCase(field, "DOW"u8) && n <= 6)
        {
            context.DayOfWeek = (byte)n;
            return true;
        }

        return false;
    }

    private ReadOnlySpan<byte> Arg(ReadOnlySpan<byte> command, int i) => command.Slice(_starts[i], _lengths[i]);

    private static bool TryParse(ReadOnlySpan<byte> digits, out ulong value) =>
        Utf8Parser.TryParse(digits, out value, out int used) && used == digits.Length && used > 0;
}
