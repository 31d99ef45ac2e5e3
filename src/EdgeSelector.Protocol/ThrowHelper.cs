using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using MessagePack;

namespace EdgeSelector.Protocol;

// Throws live out of line so the hot paths that call them stay small enough to inline.
internal static class ThrowHelper
{
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowMalformed() => throw new MessagePackSerializationException("payload layout mismatch");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowScratchTooSmall(string paramName, int needed) =>
        throw new ArgumentException($"must hold at least {needed} elements (ProtocolOptions.MaxTitlesPerPage)", paramName);

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowShortSpan() =>
        throw new InvalidOperationException("the buffer writer returned a span shorter than the size asked for");
}
