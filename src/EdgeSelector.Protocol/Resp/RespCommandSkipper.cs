namespace EdgeSelector.Protocol.Resp;

/// <summary>
/// Discards one RESP2 command as it streams in, without buffering it: what a server does with a command
/// <see cref="RespCommandReader"/> found <see cref="RespReadStatus.TooLarge"/>, after answering it with an error, so
/// the connection stays usable (docs/resp.md#limits). Keeps its place between reads; no allocation.
/// </summary>
public struct RespCommandSkipper
{
    private long _arguments;     // bulk strings still to skip; -1 until the array header is read
    private long _bulkRemaining; // bytes of the current bulk string (with its CRLF) still to skip

    /// <summary>A skipper positioned at the start of a command (its <c>*N</c> header).</summary>
    public static RespCommandSkipper Start() => new() { _arguments = -1 };

    /// <summary>
    /// Skips the command's bytes at the start of <paramref name="data"/>.
    /// <see cref="RespReadStatus.Command"/>: the whole command is skipped, <paramref name="consumed"/> bytes of it here.
    /// <see cref="RespReadStatus.Incomplete"/>: <paramref name="consumed"/> bytes skipped (possibly 0: a length line is
    /// cut), call again with what follows them. <see cref="RespReadStatus.Malformed"/>: not an array of bulk strings.
    /// </summary>
    public RespReadStatus Skip(ReadOnlySpan<byte> data, out int consumed)
    {
        consumed = 0;
        int pos = 0;
        if (_arguments < 0)
        {
            if (data.IsEmpty)
            {
                return RespReadStatus.Incomplete;
            }

            if (data[0] != (byte)'*')
            {
                return RespReadStatus.Malformed;
            }

            int header = 1;
            var status = RespCommandReader.ReadLength(data, ref header, out long count);
            if (status != RespReadStatus.Command)
            {
                return status;
            }

            if (count < 1)
            {
                return RespReadStatus.Malformed;
            }

            _arguments = count;
            pos = header;
        }

        while (true)
        {
            if (_bulkRemaining > 0)
            {
                int take = (int)Math.Min(_bulkRemaining, data.Length - pos);
                pos += take;
                _bulkRemaining -= take;
                if (_bulkRemaining > 0)
                {
                    consumed = pos;
                    return RespReadStatus.Incomplete;
                }

                _arguments--;
            }

            if (_arguments == 0)
            {
                consumed = pos;
                return RespReadStatus.Command;
            }

            // The next "$len\r\n" line, whole or not at all.
            consumed = pos;
            if (pos >= data.Length)
            {
                return RespReadStatus.Incomplete;
            }

            if (data[pos] != (byte)'$')
            {
                return RespReadStatus.Malformed;
            }

            int line = pos + 1;
            var lengthStatus = RespCommandReader.ReadLength(data, ref line, out long length);
            if (lengthStatus != RespReadStatus.Command)
            {
                return lengthStatus;
            }

            if (length < 0)
            {
                return RespReadStatus.Malformed;
            }

            pos = line;
            _bulkRemaining = length + 2;
        }
    }
}
