using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Tests;

/// <summary>Default images: one map, kept in the model store with the bundles it comes from, never forgotten by a later bundle.</summary>
public sealed class DefaultImagesTests
{
    [Fact]
    public void EncodeDecode_RoundTrip_TrailingPartialPairIgnored()
    {
        var map = new Dictionary<uint, uint> { [1001] = 100101, [7] = 0, [uint.MaxValue] = 42 };
        var bytes = DefaultImages.Encode(map);

        Assert.Equal(24, bytes.Length);
        Assert.Equal(map, DefaultImages.Decode(bytes));
        Assert.Equal(map, DefaultImages.Decode([.. bytes, 1, 2, 3]));
        Assert.Empty(DefaultImages.Decode([]));
    }

    [Fact]
    public void MergedWith_NewDefaultsWin_OthersKept()
    {
        using var node = TestNode.Start();

        var merged = node.Node.Defaults.MergedWith([new(1001, 100103), new(5000, 500001)]);

        Assert.Equal(100103u, merged[1001]);
        Assert.Equal(500001u, merged[5000]);
        Assert.Equal(100201u, merged[1002]);
        Assert.Equal(13, merged.Count);
    }

    [Fact]
    public void TryGet_EveryTitleOfEveryBundle_AndAfterAReopen()
    {
        using var dir = new TempDirectory("es-server-defaults-");
        var options = TestNode.Options(dir.Path);
        using (var node = Hosting.EdgeSelectorNode.Compose(options))
        {
            Assert.True(node.Bundles.Apply(TestBundles.Partial(1, LiveServer.BundleKey, TestBundles.TitleWithWinner(1001, 1, 100102)), force: false).Ok);
            Assert.True(node.Bundles.Apply(TestBundles.Partial(2, LiveServer.BundleKey, TestBundles.TitleWithWinner(2002, 2, 200202)), force: false).Ok);
            Assert.True(node.Defaults.TryGet(1001, out var first));
            Assert.Equal(100101u, first);
            Assert.True(node.Defaults.TryGet(2002, out var second));
            Assert.Equal(200201u, second);
            Assert.False(node.Defaults.TryGet(3003, out _));
        }

        using (var reopened = Hosting.EdgeSelectorNode.Compose(options))
        {
            Assert.Equal(2, reopened.Defaults.Count);
            Assert.True(reopened.Defaults.TryGet(2002, out var image));
            Assert.Equal(200201u, image);
        }
    }
}
