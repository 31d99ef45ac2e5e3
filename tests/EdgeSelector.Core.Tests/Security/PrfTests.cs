using System.Security.Cryptography;
using EdgeSelector.Core.Security;
using Xunit;

namespace EdgeSelector.Core.Tests.Security;

/// <summary>The PRF primitives behind event tags, against published vectors and .NET's own AES.</summary>
public class PrfTests
{
    [Fact]
    public void SipHash24_ReferenceVector_EightBytes()
    {
        // Reference implementation, key 00..0f, message 00..07 (vectors_sip64[8]).
        var (k0, k1) = SipHash.Key([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

        Assert.Equal(0x93f5f5799a932462UL, SipHash.Hash24(k0, k1, 0x0706050403020100UL));
    }

    [Fact]
    public void Aes128_Fips197AppendixC1_BothPaths()
    {
        // FIPS-197 C.1: key 000102..0f, plaintext 00112233..ff -> 69c4e0d86a7b0430d8cdb78070b4c55a.
        byte[] key = Convert.FromHexString("000102030405060708090a0b0c0d0e0f");
        byte[] block = Convert.FromHexString("00112233445566778899aabbccddeeff");
        var aes = new Aes128(key);

        aes.EncryptBlockPortable(block);

        Assert.Equal("69c4e0d86a7b0430d8cdb78070b4c55a", Convert.ToHexStringLower(block));
        Assert.Equal(0x30047b6ad8e0c469UL, aes.Encrypt(0x7766554433221100UL, 0xffeeddccbbaa9988UL));
        Assert.Equal(0x30047b6ad8e0c469UL, aes.EncryptPortable(0x7766554433221100UL, 0xffeeddccbbaa9988UL));
    }

    [Fact]
    public void Aes128_RandomKeysAndBlocks_MatchDotNetAesOnBothPaths()
    {
        var rng = new Random(7);
        using var reference = Aes.Create();
        var key = new byte[16];
        var block = new byte[16];
        for (var n = 0; n < 200; n++)
        {
            rng.NextBytes(key);
            rng.NextBytes(block);
            reference.Key = key;
            var expected = reference.EncryptEcb(block, PaddingMode.None);
            var aes = new Aes128(key);
            var low = BitConverter.ToUInt64(block, 0);
            var high = BitConverter.ToUInt64(block, 8);

            Assert.Equal(BitConverter.ToUInt64(expected, 0), aes.Encrypt(low, high));
            Assert.Equal(BitConverter.ToUInt64(expected, 0), aes.EncryptPortable(low, high));
        }
    }
}
