using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;

namespace EdgeSelector.Benchmarks.Core;

/// <summary>Seeded random models and members for the benchmarks (same shapes the tests use).</summary>
internal static class BenchmarkModels
{
    public static byte[] Blob(int images, int dimension, int seed, WeightPrecision precision, uint titleId = 1)
    {
        var rng = new Random(seed);
        var model = new TitleModel(titleId, 1, 1, new FeatureSpace((ushort)dimension, 0xBEEF, FeatureSpace.CurrentSchema));
        for (var i = 0; i < images; i++)
        {
            var image = new ImageModel((uint)(i + 1), dimension)
            {
                Bias = (float)rng.NextDouble() * 0.1f,
                BiasVariance = 1e-4f,
            };
            for (var j = 0; j < dimension; j++)
            {
                image.Weights[j] = ((float)rng.NextDouble() - 0.5f) * 0.02f;
                image.Variances[j] = (float)rng.NextDouble() * 1e-5f;
            }

            model.Images.Add(image);
        }

        return model.Serialize(precision);
    }

    public static MemberContext Member(ulong id)
    {
        var member = new MemberContext
        {
            MemberId = id,
            Country = CountryCode.Pack("US"),
            Language = CountryCode.Pack("EN"),
            Device = DeviceClass.Tv,
            LocalHour = 21,
            DayOfWeek = 5,
        };
        for (var g = 0; g < MemberProfile.GenreCount; g++)
        {
            member.Genres[g] = g / 16f;
        }

        return member;
    }
}
