using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace EdgeSelector.Core.Logging;

/// <summary>Kinds of record in an impression log; byte 1 of every record, so both kinds can share one log.</summary>
public enum LogRecordKind : byte
{
    /// <summary>An <see cref="ImpressionRecord"/>.</summary>
    Impression = 1,
    /// <summary>A <see cref="RewardRecord"/>.</summary>
    Reward = 2,
}

/// <summary>What every encoded log record shares: byte 0 is the layout version, byte 1 the kind.</summary>
public static class LogRecord
{
    /// <summary>The kind of an encoded record, or 0 when the span is too short or of a version this code cannot read.</summary>
    public static LogRecordKind PeekKind(ReadOnlySpan<byte> source) =>
        source.Length >= 2 && source[0] == ImpressionRecord.CurrentVersion ? (LogRecordKind)source[1] : 0;
}

/// <summary>Out-of-line throw helpers for the log record codecs, so the write paths stay small.</summary>
internal static class LogRecordThrow
{
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void DestinationTooShort(int needed, int actual) =>
        throw new ArgumentException($"Destination holds {actual} bytes; the record needs {needed}.", "destination");
}
