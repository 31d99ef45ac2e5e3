using System.Text;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Models;

namespace EdgeSelector.Core.Tests;

public class ModelBundleTests
{
    private static readonly byte[] Key = Encoding.UTF8.GetBytes("test-signing-key-0123456789abcdef");

    private static readonly BundleManifest Manifest = new()
    {
        Version = 12,
        ParentVersion = 11,
        CreatedAtMs = 1_700_000_000_000,
        TrainingFromMs = 1_699_000_000_000,
        TrainingToMs = 1_699_900_000_000,
        MetricsJson = "{\"take_rate\":0.07}",
    };

    private static List<byte[]> Models() =>
        [TestModels.Random(4, 32, 1, titleId: 1).Serialize(), TestModels.Random(6, 64, 2, titleId: 2).Serialize(WeightPrecision.Int8)];

    [Fact]
    public void TryRead_SignedBundle_RoundTrips()
    {
        var models = Models();
        var bytes = ModelBundle.Write(Manifest, models, Key, "k1");
        Assert.Equal(BundleError.None, ModelBundle.TryRead(bytes, Key, out var manifest, out var read, out var detail));
        Assert.Equal(string.Empty, detail);
        // Reading adds who signed it and the file's digest (what `sha256sum bundle` prints) to what was written.
        Assert.Equal(Manifest with { KeyId = "k1", Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)) }, manifest);
        Assert.Matches("^[0-9a-f]{64}$", manifest.Sha256);
        Assert.Equal(2, read.Count);
        Assert.Equal(models[1], read[1].ToArray());
    }

    [Fact]
    public void TryRead_AnyTamperedByte_IsRefused()
    {
        var bytes = ModelBundle.Write(Manifest, Models(), Key);
        for (var i = 0; i < bytes.Length; i += 7)
        {
            var copy = (byte[])bytes.Clone();
            copy[i] ^= 0x20;
            Assert.NotEqual(BundleError.None, ModelBundle.TryRead(copy, Key, out _, out var models, out _));
            Assert.Empty(models);
        }
    }

    [Fact]
    public void TryRead_UnsignedOrWrongKey_IsRefused()
    {
        Assert.Equal(BundleError.Unsigned, ModelBundle.TryRead(ModelBundle.Write(Manifest, Models(), []), Key, out _, out _, out _));
        var other = Encoding.UTF8.GetBytes("another-key");
        Assert.Equal(BundleError.BadSignature, ModelBundle.TryRead(ModelBundle.Write(Manifest, Models(), other), Key, out _, out _, out var detail));
        Assert.Contains("does not verify", detail);
        Assert.Equal(BundleError.BadSignature, ModelBundle.TryRead(ModelBundle.Write(Manifest, Models(), Key), [], out _, out _, out _));
    }

    [Fact]
    public void TryRead_CorruptModelUnderAValidSignature_IsRefused()
    {
        var models = Models();
        models[1][200] ^= 1; // the signer signed a corrupt model: the model's own checksum still catches it
        Assert.Equal(BundleError.CorruptModel, ModelBundle.TryRead(ModelBundle.Write(Manifest, models, Key), Key, out _, out _, out var detail));
        Assert.Contains("ChecksumMismatch", detail);
    }

    [Fact]
    public void TryRead_DuplicateTitle_IsRefused()
    {
        var blob = TestModels.Random(4, 32, 1, titleId: 9).Serialize();
        Assert.Equal(BundleError.DuplicateTitle, ModelBundle.TryRead(ModelBundle.Write(Manifest, [blob, blob], Key), Key, out _, out _, out _));
    }

    [Fact]
    public void TryRead_EveryTruncation_IsRefusedWithoutThrowing()
    {
        var bytes = ModelBundle.Write(Manifest, Models(), Key);
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.NotEqual(BundleError.None, ModelBundle.TryRead(bytes.AsMemory(0, length), Key, out _, out _, out _));
        }
    }
}
