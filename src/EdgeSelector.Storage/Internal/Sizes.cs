using System.Numerics;

namespace EdgeSelector.Storage.Internal;

/// <summary>Byte-size helpers for FASTER settings, which take powers of two.</summary>
internal static class Sizes
{
    /// <summary>The largest power of two not above <paramref name="bytes"/>.</summary>
    public static long FloorPow2(long bytes, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 512L, name);
        return 1L << (63 - BitOperations.LeadingZeroCount((ulong)bytes));
    }
}
