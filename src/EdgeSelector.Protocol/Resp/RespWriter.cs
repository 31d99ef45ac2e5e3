using System.Buffers;
using System.Buffers.Text;

namespace EdgeSelector.Protocol.Resp;

/// <summary>Writes RESP2 replies through <see cref="IBufferWriter{T}"/> without allocating (docs/resp.md).</summary>
public static class RespWriter
{
    /// <summary><c>+text\r\n</c>.</summary>
    public static void WriteSimpleString(IBufferWriter<byte> output, ReadOnlySpan<byte> text) => WriteLine(output, (byte)'+', text);

    /// <summary><c>-text\r\n</c>.</summary>
    public static void WriteError(IBufferWriter<byte> output, ReadOnlySpan<byte> text) => WriteLine(output, (byte)'-', text);

    /// <summary><c>:n\r\n</c>.</summary>
    public static void WriteInteger(IBufferWriter<byte> output, long value) => WriteNumberLine(output, (byte)':', value);

    /// <summary><c>*n\r\n</c>; the n elements follow.</summary>
    public static void WriteArrayHeader(IBufferWriter<byte> output, int count) => WriteNumberLine(output, (byte)'*', count);

    /// <summary><c>$-1\r\n</c>.</summary>
    public static void WriteNil(IBufferWriter<byte> output) => output.Write("$-1\r\n"u8);

    /// <summary><c>$len\r\nvalue\r\n</c>.</summary>
    public static void WriteBulkString(IBufferWriter<byte> output, ReadOnlySpan<byte> value)
    {
        Span<byte> span = output.GetSpan(value.Length + 16);
        span[0] = (byte)'$';
        Utf8Formatter.TryFormat(value.Length, span[1..], out int n);
        int pos = 1 + n;
        span[pos++] = (byte)'\r';
        span[pos++] = (byte)'\n';
        value.CopyTo(span[pos..]);
        pos += value.Length;
        span[pos++] = (byte)'\r';
        span[pos++] = (byte)'\n';
        output.Advance(pos);
    }

    /// <summary>A number as a bulk string of its decimal digits (<c>$3\r\n107\r\n</c>).</summary>
    public static void WriteBulkNumber(IBufferWriter<byte> output, ulong value)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, digits, out int n);
        WriteBulkString(output, digits[..n]);
    }

    /// <summary>A float as a bulk string (RESP2 has no double type).</summary>
    public static void WriteBulkFloat(IBufferWriter<byte> output, float value)
    {
        Span<byte> digits = stackalloc byte[32];
        Utf8Formatter.TryFormat(value, digits, out int n);
        WriteBulkString(output, digits[..n]);
    }

    private static void WriteLine(IBufferWriter<byte> output, byte type, ReadOnlySpan<byte> text)
    {
        Span<byte> span = output.GetSpan(text.Length + 3);
        span[0] = type;
        text.CopyTo(span[1..]);
        span[1 + text.Length] = (byte)'\r';
        span[2 + text.Length] = (byte)'\n';
        output.Advance(text.Length + 3);
    }

    private static void WriteNumberLine(IBufferWriter<byte> output, byte type, long value)
    {
        Span<byte> span = output.GetSpan(24);
        span[0] = type;
        Utf8Formatter.TryFormat(value, span[1..], out int n);
        span[1 + n] = (byte)'\r';
        span[2 + n] = (byte)'\n';
        output.Advance(n + 3);
    }
}
