namespace EdgeSelector.Protocol.Resp;

/// <summary>
/// Reads one inline command, what an operator types into telnet or nc: words on one line, ended by LF or CRLF
/// (docs/resp.md#input). Redis's rules (its <c>processInlineBuffer</c> and <c>sdssplitargs</c>): words are separated
/// by blanks; a word may contain <c>"double quoted"</c> parts with the escapes <c>\xHH \n \r \t \b \a</c> and
/// <c>\c</c> for any other c, and <c>'single quoted'</c> parts where only <c>\'</c> is an escape; a closing quote must
/// be followed by a blank or the end of the line. The words are unescaped into a caller-owned buffer: no allocation.
/// </summary>
public static class RespInlineReader
{
    /// <summary>
    /// Finds the line at the start of <paramref name="data"/>. <see cref="RespReadStatus.Command"/>: the line is
    /// <paramref name="lineLength"/> bytes (without its LF or CRLF) and <paramref name="consumed"/> with its end;
    /// <see cref="RespReadStatus.Incomplete"/>: no LF yet; <see cref="RespReadStatus.TooLarge"/>: no LF within
    /// <paramref name="maxLineBytes"/> bytes (the line end included), as Redis's 64 KiB inline limit.
    /// </summary>
    public static RespReadStatus TryFindLine(ReadOnlySpan<byte> data, int maxLineBytes, out int lineLength, out int consumed)
    {
        lineLength = 0;
        consumed = 0;
        var window = data.Length > maxLineBytes ? data[..maxLineBytes] : data;
        var lf = window.IndexOf((byte)'\n');
        if (lf < 0)
        {
            return data.Length >= maxLineBytes ? RespReadStatus.TooLarge : RespReadStatus.Incomplete;
        }

        consumed = lf + 1;
        lineLength = lf > 0 && data[lf - 1] == (byte)'\r' ? lf - 1 : lf;
        return RespReadStatus.Command;
    }

    /// <summary>
    /// Splits <paramref name="line"/> (found by <see cref="TryFindLine"/>) into its words, unescaped into
    /// <paramref name="output"/> (at least <c>line.Length</c> bytes: a word is never longer than its spelling).
    /// <see cref="RespReadStatus.Command"/>: <paramref name="count"/> words (0 for a blank line, which is skipped), each
    /// at <paramref name="starts"/>/<paramref name="lengths"/> in <paramref name="output"/>;
    /// <see cref="RespReadStatus.UnbalancedQuotes"/>: a quote not closed, or closed and not followed by a blank;
    /// <see cref="RespReadStatus.TooManyArguments"/>: more words than the arrays hold;
    /// <see cref="RespReadStatus.Malformed"/>: a word longer than <see cref="RespCommandReader.MaxArgumentLength"/>.
    /// </summary>
    public static RespReadStatus Split(ReadOnlySpan<byte> line, Span<byte> output, Span<int> starts, Span<int> lengths, out int count)
    {
        count = 0;
        if (output.Length < line.Length)
        {
            throw new ArgumentException("The output must hold the line.", nameof(output));
        }

        var pos = 0;
        var written = 0;
        while (true)
        {
            while (pos < line.Length && IsBlank(line[pos]))
            {
                pos++;
            }

            if (pos == line.Length)
            {
                return RespReadStatus.Command;
            }

            if (count == starts.Length || count == lengths.Length)
            {
                return RespReadStatus.TooManyArguments;
            }

            var start = written;
            var status = ReadWord(line, ref pos, output, ref written);
            if (status != RespReadStatus.Command)
            {
                return status;
            }

            if (written - start > RespCommandReader.MaxArgumentLength)
            {
                return RespReadStatus.Malformed;
            }

            starts[count] = start;
            lengths[count] = written - start;
            count++;
        }
    }

    // One word from pos (not a blank) to the blank or line end after it.
    private static RespReadStatus ReadWord(ReadOnlySpan<byte> line, ref int pos, Span<byte> output, ref int written)
    {
        while (pos < line.Length)
        {
            var c = line[pos];
            if (IsBlank(c))
            {
                return RespReadStatus.Command;
            }

            pos++;
            if (c == (byte)'"')
            {
                if (!ReadDoubleQuoted(line, ref pos, output, ref written))
                {
                    return RespReadStatus.UnbalancedQuotes;
                }
            }
            else if (c == (byte)'\'')
            {
                if (!ReadSingleQuoted(line, ref pos, output, ref written))
                {
                    return RespReadStatus.UnbalancedQuotes;
                }
            }
            else
            {
                output[written++] = c;
            }
        }

        return RespReadStatus.Command;
    }

    // After an opening ": up to and with the closing one, which must end the word.
    private static bool ReadDoubleQuoted(ReadOnlySpan<byte> line, ref int pos, Span<byte> output, ref int written)
    {
        while (pos < line.Length)
        {
            var c = line[pos++];
            if (c == (byte)'"')
            {
                return pos == line.Length || IsBlank(line[pos]);
            }

            if (c == (byte)'\\' && pos < line.Length)
            {
                var e = line[pos++];
                if (e == (byte)'x' && pos + 1 < line.Length && IsHex(line[pos]) && IsHex(line[pos + 1]))
                {
                    output[written++] = (byte)((Hex(line[pos]) << 4) | Hex(line[pos + 1]));
                    pos += 2;
                    continue;
                }

                c = e switch
                {
                    (byte)'n' => (byte)'\n',
                    (byte)'r' => (byte)'\r',
                    (byte)'t' => (byte)'\t',
                    (byte)'b' => (byte)'\b',
                    (byte)'a' => (byte)'\a',
                    _ => e,
                };
            }

            output[written++] = c;
        }

        return false;
    }

    // After an opening ': up to and with the closing one, which must end the word; only \' is an escape.
    private static bool ReadSingleQuoted(ReadOnlySpan<byte> line, ref int pos, Span<byte> output, ref int written)
    {
        while (pos < line.Length)
        {
            var c = line[pos++];
            if (c == (byte)'\\' && pos < line.Length && line[pos] == (byte)'\'')
            {
                output[written++] = (byte)'\'';
                pos++;
                continue;
            }

            if (c == (byte)'\'')
            {
                return pos == line.Length || IsBlank(line[pos]);
            }

            output[written++] = c;
        }

        return false;
    }

    // C's isspace, as sdssplitargs skips between words (a CR inside a line is a blank too).
    private static bool IsBlank(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or 0x0B or 0x0C;

    private static bool IsHex(byte c) => char.IsAsciiHexDigit((char)c);

    private static int Hex(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
