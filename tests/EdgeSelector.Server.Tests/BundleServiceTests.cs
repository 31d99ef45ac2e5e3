using System.Text;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Tests;

/// <summary>What becomes of a push or rollback (BundleResultKind, which the admin API maps to a status), without sockets.</summary>
public sealed class BundleServiceTests : IDisposable
{
    private readonly TestNode _node = TestNode.Start();

    public void Dispose() => _node.Dispose();

    private BundleService Bundles => _node.Node.Bundles;

    [Fact]
    public void Apply_NewerSignedBundle_Applied_ServedVersionAndHistoryFollow()
    {
        var result = _node.Push(2, 1001, 1002);

        Assert.Equal(BundleResultKind.Applied, result.Kind);
        Assert.Equal(2ul, result.Version);
        Assert.Equal(2ul, _node.Node.Stores.Models.Version);
        Assert.Equal([1ul, 2ul], Bundles.History.Select(b => b.Version));
    }

    [Fact]
    public void Apply_SignedWithAnotherKey_Unauthenticated_NothingChanges()
    {
        var bundle = TestBundles.Partial(2, "another-key", TestBundles.TitleWithWinner(1001, 2, 100102));

        var result = Bundles.Apply(bundle, force: false);

        Assert.Equal(BundleResultKind.Unauthenticated, result.Kind);
        Assert.False(result.Ok);
        Assert.Equal(1ul, _node.Node.Stores.Models.Version);
    }

    [Fact]
    public void Apply_NotABundle_Invalid()
    {
        var result = Bundles.Apply(Encoding.UTF8.GetBytes("not a bundle at all, just some bytes"), force: false);

        Assert.Equal(BundleResultKind.Invalid, result.Kind);
        Assert.False(string.IsNullOrWhiteSpace(result.Message));
    }

    [Fact]
    public void Apply_FullBundleWithoutModels_Invalid()
    {
        var empty = ModelBundle.Write(new BundleManifest { Version = 2, ParentVersion = 1, Full = true, CreatedAtMs = 1 }, [], Encoding.UTF8.GetBytes(LiveServer.BundleKey));

        Assert.Equal(BundleResultKind.Invalid, Bundles.Apply(empty, force: false).Kind);
    }

    [Fact]
    public void Apply_SameBytesAgain_AlreadyApplied_OtherBytesAtThatVersion_NotNewer_UnlessForced()
    {
        var bundle = TestBundles.Partial(2, LiveServer.BundleKey, TestBundles.TitleWithWinner(1001, 2, 100102));
        Assert.Equal(BundleResultKind.Applied, Bundles.Apply(bundle, force: false).Kind);

        Assert.Equal(BundleResultKind.AlreadyApplied, Bundles.Apply(bundle, force: false).Kind);

        var other = TestBundles.Partial(2, LiveServer.BundleKey, TestBundles.TitleWithWinner(1001, 2, 100103));
        Assert.Equal(BundleResultKind.NotNewer, Bundles.Apply(other, force: false).Kind);
        var older = TestBundles.Partial(1, LiveServer.BundleKey, TestBundles.TitleWithWinner(1001, 1, 100103));
        Assert.Equal(BundleResultKind.NotNewer, Bundles.Apply(older, force: false).Kind);
        Assert.Equal(BundleResultKind.Applied, Bundles.Apply(older, force: true).Kind);
        Assert.Equal(1ul, _node.Node.Stores.Models.Version);
    }

    [Fact]
    public void Rollback_AfterASecondPush_RolledBackToTheFirst()
    {
        Assert.True(_node.Push(2, 1001).Ok);

        var result = Bundles.Rollback();

        Assert.Equal(BundleResultKind.RolledBack, result.Kind);
        Assert.Equal(1ul, result.Version);
        Assert.Equal(1ul, _node.Node.Stores.Models.Version);
    }

    [Fact]
    public void Rollback_WithNoPreviousBundle_NoPrevious()
    {
        using var node = TestNode.Start();

        Assert.Equal(BundleResultKind.NoPrevious, node.Node.Bundles.Rollback().Kind);
    }
}
