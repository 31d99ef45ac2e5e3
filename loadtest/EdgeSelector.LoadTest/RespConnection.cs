using System.Buffers;
using System.Buffers.Text;
using System.Net;

namespace EdgeSelector.LoadTest;

/// <summary>
/// A lean RESP2 driver (Redis, or EdgeSelector's RESP front door, docs/resp.md) with the same distributions as the
/// binary driver: <c>GET member:title</c>, <c>ART.SELECT title member</c> or <c>PING</c>. RESP answers in order, so
/// the send times wait in a FIFO ring.
/// </summary>
public sealed class RespConnection : LoadConnection
{
    private static readonly byte[] PingCommand = "*1\r\n$4\r\nPING\r\n"u8.ToArray();

    private readonly Workload _workload;
    private readonly ArrayBufferWriter<byte> _send = new(64 * 1024);
    private readonly long[] _stamps;
    private int _head;
    private int _count;

    /// <summary>Connects to <paramref name="endPoint"/>.</summary>
    public RespConnection(IPEndPoint endPoint, LoadOptions options, int index)
        : base(endPoint, options, index)
    {
        _workload = new Workload(options);
        _stamps = new long[options.Pipeline];
    }

    /// <inheritdoc />
    protected override int Outstanding => _count;

    /// <inheritdoc />
    protected override void AppendRequest(long stamp)
    {
        _stamps[(_head + _count) % _stamps.Length] = stamp;
        _count++;
        switch (Options.RespCommand)
        {
            case RespCommand.Ping:
                _send.Write(PingCommand);
                break;
            case RespCommand.Get:
                {
                    long member = _workload.NextMember(ref _random);
                    long title = _workload.NextTitleId(ref _random);
                    Span<byte> key = stackalloc byte[48];
                    int n = Format(key, member);
                    key[n++] = (byte)':';
                    n += Format(key[n..], title);
                    WriteCommand("GET"u8, key[..n], default);
                    break;
                }

            default:
                {
                    long title = _workload.NextTitleId(ref _random);
                    long member = _workload.NextMember(ref _random);
                    Span<byte> t = stackalloc byte[24];
                    Span<byte> m = stackalloc byte[24];
                    WriteCommand("ART.SELECT"u8, t[..Format(t, title)], m[..Format(m, member)]);
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
        int consumed = 0;
        while (_count > 0)
        {
            int n = RespReply.TryMeasure(data[consumed..], out RespReplyKind kind);
            if (n == 0)
            {
                break;
            }

            if (n < 0)
            {
                throw new InvalidDataException("unreadable RESP reply");
            }

            consumed += n;
            Record(_stamps[_head], now);
            _head = (_head + 1) % _stamps.Length;
            _count--;
            Completed++;
            switch (kind)
            {
                case RespReplyKind.Error: Errors++; break;
                case RespReplyKind.Nil: Fallbacks++; Selections++; break;
                default: Selections++; break;
            }
        }

        return consumed;
    }

    private void WriteCommand(ReadOnlySpan<byte> name, ReadOnlySpan<byte> arg1, ReadOnlySpan<byte> arg2)
    {
        // *N\r\n$len\r\nNAME\r\n$len\r\narg\r\n...
        int argc = arg2.IsEmpty ? 2 : 3;
        Span<byte> span = _send.GetSpan(64 + name.Length + arg1.Length + arg2.Length);
        int pos = 0;
        span[pos++] = (byte)'*';
        pos += Format(span[pos..], argc);
        pos = Crlf(span, pos);
        pos = Bulk(span, pos, name);
        pos = Bulk(span, pos, arg1);
        if (!arg2.IsEmpty)
        {
            pos = Bulk(span, pos, arg2);
        }

        _send.Advance(pos);
    }

    private static int Bulk(Span<byte> span, int pos, ReadOnlySpan<byte> value)
    {
        span[pos++] = (byte)'$';
        pos += Format(span[pos..], value.Length);
        pos = Crlf(span, pos);
        value.CopyTo(span[pos..]);
        return Crlf(span, pos + value.Length);
    }

    private static int Crlf(Span<byte> span, int pos)
    {
        span[pos] = (byte)'\r';
        span[pos + 1] = (byte)'\n';
        return pos + 2;
    }

    private static int Format(Span<byte> span, long value)
    {
        Utf8Formatter.TryFormat(value, span, out int written);
        return written;
    }
}

/// <summary>What a RESP reply was, as far as the load tool cares.</summary>
public enum RespReplyKind
{
    /// <summary>A value (simple string, integer, bulk string, array).</summary>
    Value,
    /// <summary>A nil bulk string or nil array (a miss).</summary>
    Nil,
    /// <summary>An error reply.</summary>
    Error,
}

/// <summary>Measures one RESP2 reply without decoding it.</summary>
public static class RespReply
{
    /// <summary>Bytes of the first whole reply in <paramref name="data"/>; 0 when incomplete, -1 when malformed.</summary>
    public static int TryMeasure(ReadOnlySpan<byte> data, out RespReplyKind kind)
    {
        kind = RespReplyKind.Value;
        if (data.IsEmpty)
        {
            return 0;
        }

        int line = data.IndexOf((byte)'\n');
        if (line < 0)
        {
            return 0;
        }

        if (line < 2 || data[line - 1] != '\r')
        {
            return -1;
        }

        int header = line + 1;
        switch (data[0])
        {
            case (byte)'+':
            case (byte)':':
                return header;
            case (byte)'-':
                kind = RespReplyKind.Error;
                return header;
            case (byte)'$':
                {
                    if (!TryParseLength(data[1..(line - 1)], out long len))
                    {
                        return -1;
                    }

                    if (len < 0)
                    {
                        kind = RespReplyKind.Nil;
                        return header;
                    }

                    long total = header + len + 2;
                    return data.Length >= total ? (int)total : 0;
                }

            case (byte)'*':
                {
                    if (!TryParseLength(data[1..(line - 1)], out long items))
                    {
                        return -1;
                    }

                    if (items < 0)
                    {
                        kind = RespReplyKind.Nil;
                        return header;
                    }

                    int pos = header;
                    for (long i = 0; i < items; i++)
                    {
                        int n = TryMeasure(data[pos..], out RespReplyKind inner);
                        if (n <= 0)
                        {
                            return n;
                        }

                        if (inner == RespReplyKind.Error)
                        {
                            kind = RespReplyKind.Error;
                        }

                        pos += n;
                    }

                    return pos;
                }

            default:
                return -1;
        }
    }

    private static bool TryParseLength(ReadOnlySpan<byte> digits, out long value) =>
        Utf8Parser.TryParse(digits, out value, out int used) && used == digits.Length;
}
