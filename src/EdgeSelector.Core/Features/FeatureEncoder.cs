using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Core.Features;

/// <summary>
/// Encodes (member context, title context) into the d-dimensional vector of a <see cref="FeatureSpace"/>, schema 1:
/// dense slots for the numeric parts, then signed feature hashing for categoricals and declared crosses. Writes into
/// a caller-owned span and allocates nothing (asserted in FeatureEncoderTests). Slot meaning: docs/model-format.md.
/// </summary>
public static class FeatureEncoder
{
    /// <summary>Slot of the first genre affinity; genres fill <see cref="MemberProfile.GenreCount"/> slots.</summary>
    public const int GenreSlot = 0;

    /// <summary>Slot of the recommender's score.</summary>
    public const int RecommenderSlot = MemberProfile.GenreCount;

    /// <summary>Slot of the interacted-before flag.</summary>
    public const int InteractedSlot = RecommenderSlot + 1;

    /// <summary>Slot of sin(2π·hour/24); the next slot holds the cosine.</summary>
    public const int HourSlot = InteractedSlot + 1;

    /// <summary>Number of dense slots; hashed features fill the rest of the vector.</summary>
    public const int DenseSlots = HourSlot + 2;

    /// <summary>Largest magnitude a numeric input keeps; larger or non-finite values are clamped or zeroed.</summary>
    public const float NumericLimit = 16f;

    // Field ids of the hashed features and crosses (part of schema 1: changing one changes every model).
    private const uint CountryField = 1;
    private const uint LanguageField = 2;
    private const uint DeviceField = 3;
    private const uint DayField = 4;
    private const uint HourBucketField = 5;
    private const uint DeviceHourField = 6;
    private const uint CountryLanguageField = 7;
    private const uint DeviceDayTypeField = 8;

    private static readonly float[] HourSin = BuildHourTable(Math.Sin);
    private static readonly float[] HourCos = BuildHourTable(Math.Cos);

    /// <summary>
    /// Writes the feature vector of <paramref name="space"/> into <paramref name="x"/> (length at least
    /// <see cref="FeatureSpace.Dimension"/>). Returns false, writing nothing, when the space is not supported.
    /// </summary>
    public static bool TryEncode(in FeatureSpace space, in MemberContext member, in TitleContext title, Span<float> x)
    {
        var d = space.Dimension;
        if (!space.IsSupported || x.Length < d)
        {
            return false;
        }

        x = x[..d];
        x.Clear();
        CleanGenres(member.Genres, x.Slice(GenreSlot, MemberProfile.GenreCount));

        x[RecommenderSlot] = Clean(title.RecommenderScore);
        x[InteractedSlot] = title.Interacted ? 1f : 0f;
        var hour = member.LocalHour % 24;
        x[HourSlot] = HourSin[hour];
        x[HourSlot + 1] = HourCos[hour];

        var hashed = x[DenseSlots..];
        var seed = SeedKey(space.HashSeed);
        var device = (uint)member.Device;
        var day = (uint)(member.DayOfWeek % 7);
        var hourBucket = (uint)hour / 3;
        var weekend = day is 0 or 6 ? 1u : 0u;
        Add(hashed, seed, CountryField, member.Country);
        Add(hashed, seed, LanguageField, member.Language);
        Add(hashed, seed, DeviceField, device);
        Add(hashed, seed, DayField, day);
        Add(hashed, seed, HourBucketField, hourBucket);
        Add(hashed, seed, DeviceHourField, (device << 8) | hourBucket);
        Add(hashed, seed, CountryLanguageField, ((uint)member.Country << 16) | member.Language);
        Add(hashed, seed, DeviceDayTypeField, (device << 1) | weekend);
        return true;
    }

    /// <summary>The hashed slot (relative to the whole vector) and sign of one categorical value; used by tools and tests.</summary>
    public static (int Slot, float Sign) HashedSlot(in FeatureSpace space, uint field, uint value)
    {
        var h = FeatureHash(SeedKey(space.HashSeed), field, value);
        var buckets = (ulong)(space.Dimension - DenseSlots);
        return (DenseSlots + (int)(((h & 0xFFFF_FFFF) * buckets) >> 32), (h >> 63) == 0 ? 1f : -1f);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(Span<float> hashed, ulong seed, uint field, uint value)
    {
        // Signed hashing keeps collisions unbiased: two features sharing a slot cancel in expectation.
        var h = FeatureHash(seed, field, value);
        var slot = (int)(((h & 0xFFFF_FFFF) * (ulong)hashed.Length) >> 32);
        hashed[slot] += (h >> 63) == 0 ? 1f : -1f;
    }

    // One finalizer round per feature: the (field, value) pair fills the 64-bit input, the mixed seed keys it.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong FeatureHash(ulong seedKey, uint field, uint value) => Hash64.Mix(seedKey ^ (((ulong)field << 32) | value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong SeedKey(uint seed) => Hash64.Mix(seed + 0x9E3779B97F4A7C15UL);

    // Non-finite → 0, then clamp to ±NumericLimit: one vector for all 16 genres where the hardware has it.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CleanGenres(ReadOnlySpan<float> genres, Span<float> destination)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var v = Vector512.Create(genres);
            var finite = Vector512.Equals(v - v, Vector512<float>.Zero); // NaN and ±Inf give NaN here
            var clamped = Vector512.Min(Vector512.Max(v, Vector512.Create(-NumericLimit)), Vector512.Create(NumericLimit));
            (clamped & finite.AsSingle()).CopyTo(destination);
            return;
        }

        for (var g = 0; g < genres.Length; g++)
        {
            destination[g] = Clean(genres[g]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Clean(float v) => float.IsFinite(v) ? Math.Clamp(v, -NumericLimit, NumericLimit) : 0f;

    private static float[] BuildHourTable(Func<double, double> f)
    {
        var table = new float[24];
        for (var h = 0; h < 24; h++)
        {
            table[h] = (float)f(2 * Math.PI * h / 24);
        }

        return table;
    }
}
