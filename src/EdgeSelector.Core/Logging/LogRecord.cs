using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace EdgeSelector.Core.Logging;

/// <summary>
/// Kinds of log entry; byte 1 of every entry, so every kind can share one log. Byte 0 is the kind's own layout
/// version: each kind versions its layout independently (docs/impression-log.md).
/// </summary>
public enum LogRecordKind : byte
{
    /// <summary>One title's decision in the version-1 per-title layout (<see cref="ImpressionRecord"/>); still read.</summary>
    Impression = 1,
    /// <summary>A <see cref="RewardRecord"/>.</summary>
    Reward = 2,
    /// <summary>Every decision of one page, the member context once (<see cref="ImpressionPageWriter"/>).</summary>
    ImpressionPage = 3,
}

/// <summary>What every encoded log entry shares: byte 0 is the layout version of its kind, byte 1 the kind.</summary>
public static class LogRecord
{
    /// <summary>Bytes every entry starts with: its version and its kind.</summary>
    public const int PrefixSize = 2;

    /// <summary>
    /// The kind of an encoded entry (byte 1), or 0 when the span is too short. The version is not consulted: it
    /// belongs to the kind, whose reader accepts the versions it knows (<see cref="PeekVersion"/>).
    /// </summary>
    public static LogRecordKind PeekKind(ReadOnlySpan<byte> source) =>
        source.Length >= PrefixSize ? (LogRecordKind)source[1] : 0;

    /// <summary>The layout version of an encoded entry's kind (byte 0), or 0 when the span is too short.</summary>
    public static byte PeekVersion(ReadOnlySpan<byte> source) =>
        source.Length >= PrefixSize ? source[0] : (byte)0;
}

/// <summary>Out-of-line throw helpers for the log record codecs, so the write paths stay small.</summary>
internal static class LogRecordThrow
{
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void DestinationTooShort(int needed, int actual) =>
        throw new ArgumentException($"Destination holds {actual} bytes; the record needs {needed}.", "destination");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void TitleCountOutOfRange(int count) =>
        throw new ArgumentOutOfRangeException("titleCount", count, $"a page entry holds 1 to {ImpressionPage.MaxTitles} titles");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void TitleIndexOutOfRange(int index, int count) =>
        throw new ArgumentOutOfRangeException("index", index, $"the page holds {count} titles");
}
