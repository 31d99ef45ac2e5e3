using System.Runtime.CompilerServices;

namespace EdgeSelector.Server.Metrics;

/// <summary>
/// A counter incremented from many threads without sharing a cache line: one padded slot per processor, summed
/// when read. Increments cost one uncontended interlocked add on the hot path.
/// </summary>
internal sealed class StripedCounter
{
    // 16 longs = 128 bytes between slots: no two processors' slots share a cache line (or an adjacent-line prefetch pair).
    private const int Stride = 16;
    private static readonly int Stripes = Math.Max(1, Environment.ProcessorCount);
    private readonly long[] _slots = new long[Stripes * Stride];

    /// <summary>Adds one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Increment() => Interlocked.Increment(ref _slots[(Thread.GetCurrentProcessorId() % Stripes) * Stride]);

    /// <summary>Adds a value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(long value) => Interlocked.Add(ref _slots[(Thread.GetCurrentProcessorId() % Stripes) * Stride], value);

    /// <summary>The sum over all slots (a moment's view; increments keep going).</summary>
    public long Value
    {
        get
        {
            long sum = 0;
            for (var i = 0; i < _slots.Length; i += Stride)
            {
                sum += Volatile.Read(ref _slots[i]);
            }

            return sum;
        }
    }
}
