using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;

namespace EdgeSelector.Core.Tests;

/// <summary>Seeded random models and contexts for the tests.</summary>
internal static class TestModels
{
    /// <summary>
    /// A random model; <paramref name="schema"/> 0 takes the current schema where the dimension allows it (d ≥ 44) and
    /// schema 1 below, so the small-d kernel cases keep testing schema 1 and the others schema 2.
    /// </summary>
    public static TitleModel Random(int images, int dimension, int seed, float weightScale = 0.1f, uint titleId = 42, ushort schema = 0)
    {
        var rng = new Random(seed);
        schema = schema != 0 ? schema : dimension >= FeatureSpace.MinDimensionOf(FeatureSpace.CurrentSchema) ? FeatureSpace.CurrentSchema : FeatureSpace.Schema1;
        var model = new TitleModel(titleId, 7, 1000, new FeatureSpace((ushort)dimension, 0xABCD, schema))
        {
            PriorMean = 0.05f,
        };
        for (var i = 0; i < images; i++)
        {
            var image = new ImageModel((uint)(1000 + i), dimension, i % 2 == 0 ? ["comedy", "cast:Robin"] : ["romance"])
            {
                Bias = (float)(rng.NextDouble() * 0.1),
                BiasVariance = (float)(rng.NextDouble() * 0.001),
            };
            for (var j = 0; j < dimension; j++)
            {
                image.Weights[j] = (float)((rng.NextDouble() * 2) - 1) * weightScale;
                image.Variances[j] = (float)(rng.NextDouble() * 1e-4);
            }

            model.Images.Add(image);
        }

        return model;
    }

    public static MemberContext Member(ulong memberId, int seed = 1)
    {
        var rng = new Random(seed);
        var member = new MemberContext
        {
            MemberId = memberId,
            Country = CountryCode.Pack("US"),
            Language = CountryCode.Pack("en"),
            Device = DeviceClass.Tv,
            LocalHour = 20,
            DayOfWeek = 5,
        };
        for (var g = 0; g < MemberProfile.GenreCount; g++)
        {
            member.Genres[g] = (float)rng.NextDouble();
        }

        return member;
    }

    public static TitleContext Title(uint titleId = 42) => new() { TitleId = titleId, RecommenderScore = 0.7f, Interacted = false };
}
