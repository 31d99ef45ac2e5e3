using System.Text;
using EdgeSelector.Core.Security;
using Xunit;

namespace EdgeSelector.Core.Tests.Security;

/// <summary>Event tags: deterministic per key, different across keys, verified exactly, no allocation.</summary>
public class EventTaggerTests
{
    private static readonly byte[] Secret = Encoding.UTF8.GetBytes("a fleet-wide secret of some length");

    [Fact]
    public void Tag_SameSecret_SameTagOnEveryInstance()
    {
        var a = EventTagger.FromSecret(Secret);
        var b = EventTagger.FromSecret(Secret);

        for (ulong id = 0x0010_0000_0000_0000; id < 0x0010_0000_0000_0100; id++)
        {
            Assert.Equal(a.Tag(id), b.Tag(id));
            Assert.True(b.Verify(id, a.Tag(id)));
        }
    }

    [Fact]
    public void Tag_KnownAnswer_PinsTheScheme()
    {
        // The documented scheme, computed independently: AES-128 under key 00..0f of (id LE || "ESTag v1").
        var tagger = new EventTagger(Convert.FromHexString("000102030405060708090a0b0c0d0e0f"));
        using var aes = System.Security.Cryptography.Aes.Create();
        aes.Key = Convert.FromHexString("000102030405060708090a0b0c0d0e0f");
        var block = new byte[16];
        BitConverter.TryWriteBytes(block, 0x1000_0000_0000_0001UL);
        "ESTag v1"u8.CopyTo(block.AsSpan(8));
        var expected = BitConverter.ToUInt64(aes.EncryptEcb(block, System.Security.Cryptography.PaddingMode.None), 0);

        Assert.Equal(expected, tagger.Tag(0x1000_0000_0000_0001));
    }

    [Fact]
    public void Verify_OtherKeyNeighbourOrFlippedBit_Refused()
    {
        var tagger = EventTagger.FromSecret(Secret);
        var other = EventTagger.FromSecret(Encoding.UTF8.GetBytes("another secret, just as long"));
        const ulong id = 0x0010_0001_2345_6789;
        var tag = tagger.Tag(id);

        Assert.NotEqual(tag, other.Tag(id));
        Assert.False(tagger.Verify(id, other.Tag(id)));
        Assert.False(tagger.Verify(id + 1, tag));
        Assert.False(tagger.Verify(id + 1_000_000_000, tag));
        for (var bit = 0; bit < 64; bit++)
        {
            Assert.False(tagger.Verify(id, tag ^ (1UL << bit)));
        }

        Assert.False(tagger.Verify(id, 0));
    }

    [Fact]
    public void FromSecret_TooShort_Throws() =>
        Assert.Throws<ArgumentException>(() => EventTagger.FromSecret(new byte[EventTagger.MinSecretBytes - 1]));

    [Fact]
    public void Tag_AllocatesNothing()
    {
        var tagger = EventTagger.FromSecret(Secret);
        ulong acc = tagger.Tag(1);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (ulong id = 0; id < 10_000; id++)
        {
            acc ^= tagger.Tag(id);
            acc += tagger.Verify(id, acc) ? 1UL : 0UL;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.NotEqual(0UL, acc);
    }
}
