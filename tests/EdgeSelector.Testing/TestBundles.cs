using System.Text;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;

namespace EdgeSelector.Testing;

/// <summary>Signed model bundles for the tests that push one to a node.</summary>
internal static class TestBundles
{
    /// <summary>
    /// A title of three images (<c>titleId*100 + 1..3</c>) in which <paramref name="winner"/> outscores the others by
    /// far, serialized at the serving precision.
    /// </summary>
    public static byte[] TitleWithWinner(uint titleId, ulong version, uint winner)
    {
        var model = new TitleModel(titleId, version, (titleId * 100) + 1, FeatureSpace.Default) { PriorMean = 0.05f };
        for (uint i = 1; i <= 3; i++)
        {
            var image = (titleId * 100) + i;
            model.Images.Add(new ImageModel(image, FeatureSpace.Default.Dimension) { Bias = image == winner ? 0.9f : 0.01f, BiasVariance = 1e-6f });
        }

        return model.Serialize(ModelDefaults.ServingPrecision);
    }

    /// <summary>A partial bundle of <paramref name="models"/> at <paramref name="version"/> (parent version - 1), signed with <paramref name="key"/>.</summary>
    public static byte[] Partial(ulong version, string key, params byte[][] models) =>
        ModelBundle.Write(
            new BundleManifest { Version = version, ParentVersion = version - 1, Full = false, CreatedAtMs = 1 },
            models,
            Encoding.UTF8.GetBytes(key));
}
