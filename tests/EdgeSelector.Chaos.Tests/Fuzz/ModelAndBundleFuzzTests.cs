using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using CsCheck;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;

namespace EdgeSelector.Chaos.Tests.Fuzz;

/// <summary>
/// The model blob reader (docs/model-format.md, <see cref="ModelView.TryOpen"/>) and the bundle reader
/// (docs/admin-api.md#model-bundles, <see cref="ModelBundle.TryRead"/>): any bytes give a view or a documented error,
/// never an exception; a view that opened can be read whole; damage is fed past the checksum and the signature too
/// (both recomputed), so the layout checks behind them are what is tested.
/// </summary>
public sealed class ModelAndBundleFuzzTests
{
    private static readonly byte[] Key = Encoding.UTF8.GetBytes("fuzz-key");

    private static readonly Gen<byte[]> Models = Gen.Select(Gen.UInt[1, 100_000], Gen.Int[1, 9], Gen.Byte[0, 2], Gen.Float[-4f, 4f], Gen.Bool, Gen.String[0, 20], Gen.ULong,
        (title, images, precision, weight, variances, tag, version) =>
        {
            var model = new TitleModel(title, version, title * 10, FeatureSpace.Default) { PriorMean = 0.05f };
            for (uint i = 0; i < images; i++)
            {
                var image = new ImageModel((title * 10) + i, FeatureSpace.Default.Dimension, tag.Length == 0 ? [] : [tag]) { Bias = weight * i, BiasVariance = 0.01f };
                Array.Fill(image.Weights, weight / (i + 1));
                Array.Fill(image.Variances, 0.001f);
                model.Images.Add(image);
            }

            return model.Serialize((WeightPrecision)precision, variances);
        });

    private static readonly Gen<byte[]> Bundles = Gen.Select(Models.Array[1, 3], Gen.ULong[2, 1000], Gen.Bool, (models, version, full) =>
        ModelBundle.Write(new BundleManifest { Version = version, ParentVersion = version - 1, Full = full, CreatedAtMs = 1 }, models, Key));

    [Fact]
    public Task AnyModelBlob_OpensOrIsRefused_AndAnOpenedViewReadsWhole() =>
        Fuzz.RunAsync(Gen.Select(Fuzz.Mutations(Models), Gen.Bool, (blob, fix) => fix ? WithChecksum(blob) : blob), OpenModel, print: Fuzz.Hex);

    [Fact]
    public Task AnyBundle_VerifiesOrIsRefused_NeverThrows() =>
        Fuzz.RunAsync(Gen.Select(Fuzz.Mutations(Bundles), Gen.Int[0, 2], (bundle, how) => how == 0 ? bundle : Resign(bundle)), bundle =>
        {
            var error = ModelBundle.TryRead(bundle, Key, out var manifest, out var models, out var detail);
            Assert.True(Enum.IsDefined(error), $"undocumented bundle error {(int)error}");
            if (error != BundleError.None)
            {
                Assert.False(string.IsNullOrEmpty(detail), $"{error} without a detail");
                return;
            }

            Assert.NotNull(manifest);
            foreach (var model in models)
            {
                Assert.True(ModelView.TryOpen(model.Span, ModelCheck.Full, out _, out var modelError), $"a verified bundle holds a model that does not open: {modelError}");
            }
        }, print: Fuzz.Hex);

    // A well-formed bundle holds each title once (two models of one title are DuplicateTitle, a refusal the mutation
    // target covers); the generator draws title ids independently, so it can repeat one.
    private static bool DistinctTitles(byte[][] models) =>
        models.Select(m => ModelView.TryOpen(m, ModelCheck.Structure, out var view, out _) ? view.TitleId : 0u).Distinct().Count() == models.Length;

    [Fact]
    public Task WellFormedBundles_RoundTrip() =>
        Fuzz.RunAsync(Gen.Select(Models.Array[1, 3].Where(DistinctTitles), Gen.ULong[2, 1000], (models, version) => (models, version)), input =>
        {
            var bytes = ModelBundle.Write(new BundleManifest { Version = input.version, ParentVersion = 1, CreatedAtMs = 5 }, input.models, Key);
            Assert.Equal(BundleError.None, ModelBundle.TryRead(bytes, Key, out var manifest, out var models, out var detail));
            Assert.Equal(input.version, manifest.Version);
            Assert.Equal(input.models, models.Select(m => m.ToArray()));
            Assert.Equal(BundleError.BadSignature, ModelBundle.TryRead(bytes, Encoding.UTF8.GetBytes("other-key"), out _, out _, out _));
        }, iterations: Math.Max(200, Infrastructure.ChaosBudget.FuzzIterations / 20));

    internal static void OpenModel(byte[] blob)
    {
        foreach (var check in new[] { ModelCheck.Structure, ModelCheck.Full })
        {
            if (!ModelView.TryOpen(blob, check, out var view, out var error))
            {
                Assert.True(Enum.IsDefined(error) && error != ModelError.None, $"refused with {error}");
                continue;
            }

            if (check != ModelCheck.Full)
            {
                continue;
            }

            // A fully checked view is what the server scores from: every part of it must read.
            var model = TitleModel.FromView(view);
            Assert.Equal(view.TitleId, model.TitleId);
            Assert.InRange(model.Images.Count, 1, ModelFormat.MaxImages);
            for (var i = 0; i < model.Images.Count; i++)
            {
                _ = view.GetTags(i);
            }
        }
    }

    // The CRC-32C at header offset 12 recomputed, so the damage reaches the checks behind it.
    private static byte[] WithChecksum(byte[] blob)
    {
        if (blob.Length >= 16)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(12), ModelView.ComputeChecksum(blob));
        }

        return blob;
    }

    // Signs the damaged bundle again (HMAC-SHA256 over every byte before it, key id "default"), so the damage reaches
    // the parser behind the signature check.
    private static byte[] Resign(byte[] bundle)
    {
        const int trailer = 2 + 7 + 32; // u8 algorithm | u8 key-id length | "default" | HMAC
        if (bundle.Length < trailer)
        {
            return bundle;
        }

        var body = bundle[..^trailer];
        var signed = new byte[body.Length + trailer];
        body.CopyTo(signed, 0);
        signed[body.Length] = 1;
        signed[body.Length + 1] = 7;
        "default"u8.CopyTo(signed.AsSpan(body.Length + 2));
        HMACSHA256.HashData(Key, signed.AsSpan(0, body.Length + 9), signed.AsSpan(body.Length + 9));
        return signed;
    }
}
