using System.Buffers.Binary;
using System.Numerics;

namespace EdgeSelector.Core.Numerics;

/// <summary>CRC-32C (Castagnoli), hardware-accelerated through <see cref="BitOperations.Crc32C(uint, ulong)"/>.</summary>
public static class Crc32C
{
    /// <summary>Continues a CRC over more bytes; start with 0 and pass the previous result for each further span.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        crc = ~crc;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }

    /// <summary>The CRC-32C of one span.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);
}
