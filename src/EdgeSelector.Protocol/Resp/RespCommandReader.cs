using System.Buffers.Text;

namespace EdgeSelector.Protocol.Resp;

/// <summary>What <see cref="RespCommandReader"/> (or <see cref="RespCommandSkipper"/>) found.</summary>
public enum RespReadStatus : byte
{
    /// <summary>A whole command: its arguments are in the caller's arrays (the skipper: it is all skipped).</summary>
    Command,
    /// <summary>Not a whole command yet: the reader consumed nothing (the skipper reports what it skipped).</summary>
    Incomplete,
    /// <summary>Not RESP2: answer an error and close (the stream cannot be resynchronised).</summary>
    Malformed,
    /// <summary>More arguments than the caller's arrays hold: answer an error and close.</summary>
    TooManyArguments,
    /// <summary>
    /// The command is longer than the caller's limit (known from its lengths, or from that many bytes without its end):
    /// nothing consumed; answer an error and discard it with <see cref="RespCommandSkipper"/> (the connection stays).
    /// </summary>
    TooLarge,
    /// <summary>
    /// An empty array (<c>*0\r\n</c>, or a negative count) of the reported length: skip it and answer nothing, as
    /// Redis does (the reader reports no arguments).
    /// </summary>
    Empty,
    /// <summary>An inline command with a quote not closed, or closed and not followed by a blank (<see cref="RespInlineReader"/>).</summary>
    UnbalancedQuotes,
}

/// <summary>
/// Reads one RESP2 command, an array of bulk strings (<c>*N\r\n$len\r\narg\r\n…</c>, docs/resp.md), from a span
/// into caller-owned argument offsets: no copy, no allocation (RespCommandReaderTests).
/// </summary>
public static class RespCommandReader
{
    /// <summary>Longest bulk string accepted (a title list is far smaller).</summary>
    public const int MaxArgumentLength = 4096;

    /// <summary>The default limit on a whole command's bytes (docs/resp.md#limits): the binary protocol's default frame size.</summary>
    public const int DefaultMaxCommandBytes = 64 * 1024;

    /// <summary>Reads the command at the start of <paramref name="data"/>, within <see cref="DefaultMaxCommandBytes"/>.</summary>
    public static RespReadStatus TryRead(ReadOnlySpan<byte> data, Span<int> starts, Span<int> lengths, out int count, out int consumed) =>
        TryRead(data, starts, lengths, DefaultMaxCommandBytes, out count, out consumed);

    /// <summary>Reads the command at the start of <paramref name="data"/>.</summary>
    /// <param name="data">Input bytes.</param>
    /// <param name="starts">Receives each argument's offset in <paramref name="data"/>.</param>
    /// <param name="lengths">Receives each argument's length.</param>
    /// <param name="maxCommandBytes">Longest whole command accepted; a longer one is <see cref="RespReadStatus.TooLarge"/>.</param>
    /// <param name="count">Arguments read.</param>
    /// <param name="consumed">Bytes of the whole command (of the empty array, for <see cref="RespReadStatus.Empty"/>).</param>
    public static RespReadStatus TryRead(ReadOnlySpan<byte> data, Span<int> starts, Span<int> lengths, int maxCommandBytes, out int count, out int consumed)
    {
        var status = TryReadCore(data, starts, lengths, maxCommandBytes, out count, out consumed);

        // That many bytes and still no end: the command cannot fit, whatever its lengths say.
        return status == RespReadStatus.Incomplete && data.Length >= maxCommandBytes ? RespReadStatus.TooLarge : status;
    }

    private static RespReadStatus TryReadCore(ReadOnlySpan<byte> data, Span<int> starts, Span<int> lengths, int maxCommandBytes, out int count, out int consumed)
    {
        count = 0;
        consumed = 0;
        if (data.IsEmpty)
        {
            return RespReadStatus.Incomplete;
        }

        if (data[0] != (byte)'*')
        {
            return RespReadStatus.Malformed;
        }

        int pos = 1;
        RespReadStatus status = ReadLength(data, ref pos, out long n);
        if (status != RespReadStatus.Command)
        {
            return status;
        }

        if (n < 1)
        {
            // "*0\r\n" (and "*-1\r\n"): Redis skips it without a reply.
            consumed = pos;
            return RespReadStatus.Empty;
        }

        if (n > starts.Length || n > lengths.Length)
        {
            return RespReadStatus.TooManyArguments;
        }

        for (int i = 0; i < n; i++)
        {
            if (pos >= data.Length)
            {
                return RespReadStatus.Incomplete;
            }

            if (data[pos] != (byte)'$')
            {
                return RespReadStatus.Malformed;
            }

            pos++;
            status = ReadLength(data, ref pos, out long length);
            if (status != RespReadStatus.Command)
            {
                return status;
            }

            if (length < 0 || length > MaxArgumentLength)
            {
                return RespReadStatus.Malformed;
            }

            if (pos + length + 2 > maxCommandBytes)
            {
                return RespReadStatus.TooLarge;
            }

            if (data.Length - pos < length + 2)
            {
                return RespReadStatus.Incomplete;
            }

            if (data[pos + (int)length] != (byte)'\r' || data[pos + (int)length + 1] != (byte)'\n')
            {
                return RespReadStatus.Malformed;
            }

            starts[i] = pos;
            lengths[i] = (int)length;
            pos += (int)length + 2;
        }

        count = (int)n;
        consumed = pos;
        return RespReadStatus.Command;
    }

    // Reads "<digits>\r\n" at pos (after the type byte) and moves pos past it.
    internal static RespReadStatus ReadLength(ReadOnlySpan<byte> data, ref int pos, out long value)
    {
        value = 0;
        int end = data[pos..].IndexOf((byte)'\r');
        if (end < 0)
        {
            return data.Length - pos > 20 ? RespReadStatus.Malformed : RespReadStatus.Incomplete;
        }

        if (pos + end + 1 >= data.Length)
        {
            return RespReadStatus.Incomplete;
        }

        if (data[pos + end + 1] != (byte)'\n' || !Utf8Parser.TryParse(data.Slice(pos, end), out value, out int used) || used != end || end == 0)
        {
            return RespReadStatus.Malformed;
        }

        pos += end + 2;
        return RespReadStatus.Command;
    }
}
