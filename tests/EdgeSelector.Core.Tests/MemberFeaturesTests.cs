using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;

namespace EdgeSelector.Core.Tests;

/// <summary>
/// #12.3: the member's part of the vector encoded once per page, the title's slots added per title, gives bit for bit
/// the vector, the decision and the propensity of encoding (member, title) whole, over random contexts.
/// </summary>
public class MemberFeaturesTests
{
    public static TheoryData<ushort, int> Spaces => new()
    {
        { FeatureSpace.Schema1, 28 },
        { FeatureSpace.Schema1, 64 },
        { FeatureSpace.Schema2, 44 },
        { FeatureSpace.Schema2, 64 },
        { FeatureSpace.Schema2, 128 },
    };

    [Theory]
    [MemberData(nameof(Spaces))]
    public void TryEncode_MemberOncePlusTitle_EqualsWholeEncodingBitForBit(ushort schema, int dimension)
    {
        var rng = new Random(schema * 1000 + dimension);
        var space = new FeatureSpace((ushort)dimension, (uint)rng.Next(), schema);
        for (var page = 0; page < 300; page++)
        {
            var member = new MemberFeatures(RandomMember(rng));
            for (var t = 0; t < 8; t++)
            {
                var title = RandomTitle(rng);
                Assert.True(FeatureEncoder.TryEncode(space, member.Context, title, out SparseFeatures whole));
                Assert.True(FeatureEncoder.TryEncode(space, ref member, title, out SparseFeatures paged));
                Assert.True(member.IsEncodedFor(space));
                AssertSame(whole, paged);
            }
        }
    }

    [Fact]
    public void TryEncode_TitleOfAnotherSpace_ReencodesTheMember()
    {
        var rng = new Random(5);
        var a = new FeatureSpace(64, 1, FeatureSpace.Schema2);
        var b = new FeatureSpace(64, 2, FeatureSpace.Schema1);
        var member = new MemberFeatures(RandomMember(rng));
        foreach (var space in new[] { a, b, a, a, b })
        {
            var title = RandomTitle(rng);
            Assert.True(FeatureEncoder.TryEncode(space, ref member, title, out SparseFeatures paged));
            Assert.True(FeatureEncoder.TryEncode(space, member.Context, title, out SparseFeatures whole));
            Assert.Equal(space, member.Space);
            AssertSame(whole, paged);
        }

        Assert.False(FeatureEncoder.TryEncode(new FeatureSpace(64, 1, 3), ref member, default, out _));
    }

    [Fact]
    public void AddTitle_OverAnotherTitlesVector_EqualsWholeEncodingBitForBit()
    {
        // A page's vector is rebuilt in place title after title (FeatureEncoder.TryEncodeInPlace): every title slot,
        // schema 2's genre × interacted included, must be rewritten, not only the ones an interacted title sets.
        var rng = new Random(13);
        FeatureSpace[] spaces = [new(64, 3, FeatureSpace.Schema2), new(44, 5, FeatureSpace.Schema2), new(28, 4, FeatureSpace.Schema1)];
        foreach (var space in spaces)
        {
            for (var page = 0; page < 300; page++)
            {
                var member = RandomMember(rng);
                Assert.True(FeatureEncoder.TryEncodeMember(space, member, out SparseFeatures features));
                for (var t = 0; t < 6; t++)
                {
                    var title = RandomTitle(rng);
                    FeatureEncoder.AddTitle(ref features, space.SchemaVersion, title);
                    Assert.True(FeatureEncoder.TryEncode(space, member, title, out SparseFeatures whole));
                    AssertSame(whole, features);
                }
            }
        }
    }

    [Fact]
    public void Reset_AfterPagesInOtherSpaces_EncodesBitForBitAsANewMember()
    {
        // A page scorer keeps one MemberFeatures and resets it per page: what the last page encoded (another schema,
        // another dimension, more dense slots) must not reach the next page's vectors.
        var rng = new Random(11);
        FeatureSpace[] spaces =
        [
            new(128, 7, FeatureSpace.Schema2), new(28, 8, FeatureSpace.Schema1), new(64, 9, FeatureSpace.Schema2), new(64, 10, FeatureSpace.Schema1),
        ];
        var kept = new MemberFeatures(RandomMember(rng));
        for (var page = 0; page < 400; page++)
        {
            var context = RandomMember(rng);
            kept.Reset(context);
            var fresh = new MemberFeatures(context);
            Assert.Equal(default, kept.Space);
            Assert.False(kept.IsEncodedFor(spaces[page % spaces.Length]));
            Assert.Equal(context.MemberId, kept.Context.MemberId);
            for (var t = 0; t < 4; t++)
            {
                var space = spaces[rng.Next(spaces.Length)];
                var title = RandomTitle(rng);
                Assert.True(FeatureEncoder.TryEncode(space, ref fresh, title, out SparseFeatures expected));
                Assert.True(FeatureEncoder.TryEncode(space, ref kept, title, out SparseFeatures actual));
                Assert.Equal(fresh.Space, kept.Space);
                AssertSame(expected, actual);
            }
        }
    }

    [Theory]
    [MemberData(nameof(PolicyTests.AllPolicies), MemberType = typeof(PolicyTests))]
    public void Select_MemberEncodedOncePerPage_SameDecisionsAndPropensitiesBitForBit(PolicyKind policy)
    {
        var engine = new SelectionEngine(new SelectionOptions { Policy = policy });
        var rng = new Random(77 + (int)policy);
        var blobs = new byte[6][];
        for (var m = 0; m < blobs.Length; m++)
        {
            // Mixed spaces and precisions within a page, as a partial bundle could leave them.
            var model = TestModels.Random(8 + (m * 5), m % 3 == 2 ? 28 : 64, seed: m + 1, titleId: (uint)(100 + m), schema: m % 3 == 2 ? FeatureSpace.Schema1 : (ushort)0);
            blobs[m] = model.Serialize(m % 2 == 0 ? WeightPrecision.Int8 : WeightPrecision.Float32);
        }

        for (var page = 0; page < 200; page++)
        {
            var context = RandomMember(rng);
            var member = new MemberFeatures(context);
            var pageOld = new PageState(page % 2 == 0 ? 0f : 0.3f);
            var pageNew = pageOld;
            var unixMs = 1_700_000_000_000L + rng.Next();
            for (var t = 0; t < 10; t++)
            {
                var blob = blobs[rng.Next(blobs.Length)];
                Assert.True(ModelView.TryOpen(blob, ModelCheck.Structure, out var view, out _));
                var title = RandomTitle(rng);
                title.TitleId = view.TitleId;
                var old = engine.Select(view, context, title, unixMs, default, ref pageOld);
                var now = engine.Select(view, ref member, title, unixMs, default, ref pageNew);
                Assert.Equal(old.ImageId, now.ImageId);
                Assert.Equal(BitConverter.SingleToInt32Bits(old.Propensity), BitConverter.SingleToInt32Bits(now.Propensity));
                Assert.Equal(BitConverter.SingleToInt32Bits(old.Score), BitConverter.SingleToInt32Bits(now.Score));
                Assert.Equal(pageOld.Tags, pageNew.Tags);
            }
        }
    }

    private static void AssertSame(in SparseFeatures whole, in SparseFeatures paged)
    {
        Assert.Equal(whole.Dimension, paged.Dimension);
        Assert.Equal(whole.DenseCount, paged.DenseCount);
        for (var i = 0; i < whole.DenseCount; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(whole.Dense[i]), BitConverter.SingleToInt32Bits(paged.Dense[i]));
        }

        for (var f = 0; f < SparseFeatures.HashedCount; f++)
        {
            Assert.Equal(whole.Slots[f], paged.Slots[f]);
            Assert.Equal(whole.Signs[f], paged.Signs[f]);
        }

        var x = new float[whole.Dimension];
        var y = new float[whole.Dimension];
        whole.CopyTo(x);
        paged.CopyTo(y);
        Assert.Equal(x, y);
    }

    private static MemberContext RandomMember(Random rng)
    {
        var member = new MemberContext
        {
            MemberId = (ulong)rng.NextInt64(),
            Country = (ushort)rng.Next(65536),
            Language = (ushort)rng.Next(65536),
            Device = (DeviceClass)rng.Next(6),
            LocalHour = (byte)rng.Next(30),
            DayOfWeek = (byte)rng.Next(9),
        };
        for (var g = 0; g < MemberProfile.GenreCount; g++)
        {
            member.Genres[g] = rng.Next(20) switch
            {
                0 => float.NaN,
                1 => 100f,
                2 => -0f,
                _ => (float)((rng.NextDouble() * 4) - 2),
            };
        }

        return member;
    }

    private static TitleContext RandomTitle(Random rng) => new()
    {
        TitleId = (uint)rng.Next(),
        RecommenderScore = rng.Next(15) switch
        {
            0 => float.PositiveInfinity,
            1 => -40f,
            _ => (float)rng.NextDouble(),
        },
        Interacted = rng.Next(2) == 0,
    };
}
