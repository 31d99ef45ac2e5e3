using EdgeSelector.Core.Features;

namespace EdgeSelector.Core.Tests;

public class FeatureEncoderTests
{
    private static readonly FeatureSpace Space = new(64, 11, FeatureSpace.CurrentSchema);

    [Fact]
    public void TryEncode_DenseSlots_HoldTheNumericContext()
    {
        var member = TestModels.Member(1);
        var title = new TitleContext { TitleId = 3, RecommenderScore = 0.25f, Interacted = true };
        var x = new float[64];
        Assert.True(FeatureEncoder.TryEncode(Space, member, title, x));
        for (var g = 0; g < MemberProfile.GenreCount; g++)
        {
            Assert.Equal(member.Genres[g], x[FeatureEncoder.GenreSlot + g]);
        }

        Assert.Equal(0.25f, x[FeatureEncoder.RecommenderSlot]);
        Assert.Equal(1f, x[FeatureEncoder.InteractedSlot]);
        Assert.Equal(Math.Sin(2 * Math.PI * 20 / 24), x[FeatureEncoder.HourSlot], 6);
        Assert.Equal(Math.Cos(2 * Math.PI * 20 / 24), x[FeatureEncoder.HourSlot + 1], 6);

        // Schema 2: the genres again, times the interacted flag (set here).
        for (var g = 0; g < MemberProfile.GenreCount; g++)
        {
            Assert.Equal(member.Genres[g], x[FeatureEncoder.InteractedGenreSlot + g]);
        }

        // Eight hashed features of magnitude 1 land in the hashed region (collisions may add or cancel).
        var hashed = x.AsSpan(Space.DenseSlots).ToArray();
        Assert.Equal(36, Space.DenseSlots);
        Assert.All(hashed, v => Assert.True(v == Math.Round(v)));
        Assert.InRange(hashed.Sum(Math.Abs), 1, 8);
        var (slot, sign) = FeatureEncoder.HashedSlot(Space, 1, member.Country);
        Assert.InRange(slot, Space.DenseSlots, 63);
        Assert.NotEqual(0f, sign);
    }

    [Fact]
    public void TryEncode_Schema2_GenreTimesInteracted_IsZeroWithoutInteraction_AndSchema1HasNoSuchSlots()
    {
        var member = TestModels.Member(1);
        var x = new float[64];
        Assert.True(FeatureEncoder.TryEncode(Space, member, new TitleContext { TitleId = 3, Interacted = false }, x));
        Assert.All(x.AsSpan(FeatureEncoder.InteractedGenreSlot, MemberProfile.GenreCount).ToArray(), v => Assert.Equal(0f, v));

        // Schema 1 keeps its layout exactly: hashed features start at slot 20, as models trained before schema 2 expect.
        var schema1 = new FeatureSpace(64, 11, FeatureSpace.Schema1);
        var old = new float[64];
        Assert.True(FeatureEncoder.TryEncode(schema1, member, new TitleContext { TitleId = 3, Interacted = true }, old));
        Assert.Equal(20, schema1.DenseSlots);
        var hashed = old.AsSpan(schema1.DenseSlots).ToArray();
        Assert.InRange(hashed.Sum(Math.Abs), 1, 8);
        Assert.All(hashed, v => Assert.True(v == Math.Round(v)));
        var (slot, _) = FeatureEncoder.HashedSlot(schema1, 1, member.Country);
        Assert.InRange(slot, 20, 63);
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(4096)]
    public void TryEncode_SparseForm_EachHashedFeatureIsTheScalarHash(int dimension)
    {
        // The encoder hashes all eight features at once with vectors where it can; each must equal the one-at-a-time
        // hash (HashedSlot) of its (field, value), fields numbered 1-8 in schema 1's order.
        var space = new FeatureSpace((ushort)dimension, 0xC0FFEE, dimension >= 44 ? FeatureSpace.CurrentSchema : FeatureSpace.Schema1);
        var rng = new Random(6);
        for (var trial = 0; trial < 500; trial++)
        {
            var member = TestModels.Member((ulong)trial, trial);
            member.Country = (ushort)rng.Next(1 << 16);
            member.Language = (ushort)rng.Next(1 << 16);
            member.Device = (DeviceClass)rng.Next(6);
            member.LocalHour = (byte)rng.Next(256);
            member.DayOfWeek = (byte)rng.Next(256);
            Assert.True(FeatureEncoder.TryEncode(space, member, TestModels.Title(), out SparseFeatures features));
            var hour = (uint)(member.LocalHour % 24);
            var device = (uint)member.Device;
            var day = (uint)(member.DayOfWeek % 7);
            uint[] values =
            [
                member.Country, member.Language, device, day, hour / 3, (device << 8) | (hour / 3),
                ((uint)member.Country << 16) | member.Language, (device << 1) | (day is 0 or 6 ? 1u : 0u),
            ];
            for (var f = 0; f < SparseFeatures.HashedCount; f++)
            {
                var (slot, sign) = FeatureEncoder.HashedSlot(space, (uint)(f + 1), values[f]);
                Assert.Equal(slot, features.Slots[f]);
                Assert.Equal((int)sign, features.Signs[f]);
            }
        }
    }

    [Fact]
    public void TryEncode_ChangingOneCategorical_ChangesOnlyHashedSlots()
    {
        var a = new float[64];
        var b = new float[64];
        var member = TestModels.Member(1);
        FeatureEncoder.TryEncode(Space, member, TestModels.Title(), a);
        member.Country = CountryCode.Pack("FR");
        FeatureEncoder.TryEncode(Space, member, TestModels.Title(), b);
        Assert.Equal(a.AsSpan(0, FeatureEncoder.DenseSlots).ToArray(), b.AsSpan(0, FeatureEncoder.DenseSlots).ToArray());
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void TryEncode_NonFiniteOrHugeInputs_AreCleaned()
    {
        var member = TestModels.Member(1);
        member.Genres[0] = float.NaN;
        member.Genres[1] = float.PositiveInfinity;
        member.Genres[2] = 1e9f;
        member.LocalHour = 200;
        var x = new float[64];
        Assert.True(FeatureEncoder.TryEncode(Space, member, new TitleContext { RecommenderScore = float.NaN }, x));
        Assert.All(x, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(0f, x[0]);
        Assert.Equal(0f, x[1]);
        Assert.Equal(FeatureEncoder.NumericLimit, x[2]);
    }

    [Fact]
    public void TryEncode_UnsupportedSpaceOrShortBuffer_ReturnsFalse()
    {
        var member = TestModels.Member(1);
        Assert.False(FeatureEncoder.TryEncode(new FeatureSpace(64, 1, 3), member, default, new float[64]));
        Assert.False(FeatureEncoder.TryEncode(new FeatureSpace(16, 1, 1), member, default, new float[64]));
        Assert.False(FeatureEncoder.TryEncode(new FeatureSpace(40, 1, FeatureSpace.Schema2), member, default, new float[64])); // < 36 + 8
        Assert.False(FeatureEncoder.TryEncode(Space, member, default, new float[63]));
    }

    [Fact]
    public void TryEncode_10000Encodings_AllocateNothing()
    {
        var member = TestModels.Member(1);
        var title = TestModels.Title();
        Span<float> x = stackalloc float[128];
        var space = new FeatureSpace(128, 5, FeatureSpace.CurrentSchema);
        FeatureEncoder.TryEncode(space, member, title, x);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            member.LocalHour = (byte)(i % 24);
            FeatureEncoder.TryEncode(space, member, title, x);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [InlineData("US", 0x5553)]
    [InlineData("fr", 0x4652)]
    [InlineData("USA", 0)]
    [InlineData("1A", 0)]
    [InlineData("", 0)]
    public void CountryCode_Pack_TwoLettersOnly(string code, int expected)
    {
        Assert.Equal(expected, CountryCode.Pack(code));
        if (expected != 0)
        {
            Assert.Equal(code.ToUpperInvariant(), CountryCode.Unpack((ushort)expected));
        }
    }
}
