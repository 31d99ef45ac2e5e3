using System.Runtime.Intrinsics;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Core.Tests;

/// <summary>The vector forms of <see cref="Hash64"/> against the scalar ones, bit for bit.</summary>
public class Hash64Tests
{
    [Fact]
    public void Mix_Vector256_EqualsScalarBitForBit()
    {
        foreach (var x in Words(20_000))
        {
            var lanes = Hash64.Mix(x);
            for (var lane = 0; lane < 4; lane++)
            {
                Assert.Equal(Hash64.Mix(x[lane]), lanes[lane]);
            }
        }
    }

    [Fact]
    public void Mix_Vector512_EqualsScalarBitForBit()
    {
        foreach (var x in Words(20_000))
        {
            var lanes = Hash64.Mix(Vector512.Create(x, ~x));
            for (var lane = 0; lane < 4; lane++)
            {
                Assert.Equal(Hash64.Mix(x[lane]), lanes[lane]);
                Assert.Equal(Hash64.Mix(~x[lane]), lanes[lane + 4]);
            }
        }
    }

    [Fact]
    public void ToUnit_Vector256_EqualsScalarBitForBit()
    {
        foreach (var h in Words(20_000))
        {
            var lanes = Hash64.ToUnit(h);
            for (var lane = 0; lane < 4; lane++)
            {
                Assert.Equal(BitConverter.DoubleToInt64Bits(Hash64.ToUnit(h[lane])), BitConverter.DoubleToInt64Bits(lanes[lane]));
            }
        }
    }

    // Random words plus the edges (0, all ones, one bit set, the top bit alone and every bit but it).
    private static IEnumerable<Vector256<ulong>> Words(int count)
    {
        yield return Vector256.Create(0UL, ulong.MaxValue, 1UL, 1UL << 63);
        yield return Vector256.Create(ulong.MaxValue >> 1, 1UL << 11, (1UL << 11) - 1, 0xFFFFFFFFUL);
        for (var bit = 0; bit < 64; bit += 4)
        {
            yield return Vector256.Create(1UL << bit, 1UL << (bit + 1), 1UL << (bit + 2), 1UL << (bit + 3));
        }

        var rng = new Random(64);
        for (var n = 0; n < count; n++)
        {
            yield return Vector256.Create((ulong)rng.NextInt64(), (ulong)rng.NextInt64() << 1, (ulong)rng.NextInt64(long.MinValue, long.MaxValue), (ulong)rng.NextInt64() ^ (1UL << 63));
        }
    }
}
