using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Core.Features;

/// <summary>
/// Encodes (member context, title context) into the d-dimensional vector of a <see cref="FeatureSpace"/>, schema 1 or
/// 2: dense slots for the numeric parts (schema 2 adds genre × interacted-before), then signed feature hashing for
/// categoricals and declared crosses. Writes into a caller-owned span and allocates nothing (asserted in
/// FeatureEncoderTests). Slot meaning: docs/model-format.md.
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

    /// <summary>Number of dense slots of schema 1; its hashed features fill the rest of the vector.</summary>
    public const int DenseSlots = HourSlot + 2;

    /// <summary>
    /// Schema 2: slot of genre 0's affinity times the interacted-before flag (16 slots, zero when the member has not
    /// interacted with the title). Per-image weights here let the theme's pull differ for members who know the title.
    /// </summary>
    public const int InteractedGenreSlot = DenseSlots;

    /// <summary>Number of dense slots of schema 2 (the largest of any schema).</summary>
    public const int DenseSlotsSchema2 = InteractedGenreSlot + MemberProfile.GenreCount;

    /// <summary>The most dense slots any schema has (the size of <see cref="SparseFeatures.Dense"/>).</summary>
    public const int MaxDenseSlots = DenseSlotsSchema2;

    /// <summary>Dense slots of a schema: 20 for schema 1, 36 for schema 2 (0 for a schema this build does not know).</summary>
    public static int DenseSlotCount(ushort schema) => schema switch
    {
        FeatureSpace.Schema1 => DenseSlots,
        FeatureSpace.Schema2 => DenseSlotsSchema2,
        _ => 0,
    };

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
        if (x.Length < space.Dimension || !TryEncode(space, member, title, out var features))
        {
            return false;
        }

        features.CopyTo(x);
        return true;
    }

    /// <summary>
    /// Encodes into the sparse form (dense slots, then each hashed feature's slot and sign), which the vector above
    /// is the sum of. Returns false when the space is not supported.
    /// </summary>
    public static bool TryEncode(in FeatureSpace space, in MemberContext member, in TitleContext title, out SparseFeatures features)
    {
        var d = space.Dimension;
        if (!space.IsSupported)
        {
            features = default;
            return false;
        }

        Unsafe.SkipInit(out features); // every field is written below

        features.Dimension = d;
        Span<float> dense = features.Dense;
        CleanGenres(member.Genres, dense.Slice(GenreSlot, MemberProfile.GenreCount));
        dense[RecommenderSlot] = Clean(title.RecommenderScore);
        dense[InteractedSlot] = title.Interacted ? 1f : 0f;
        var hour = member.LocalHour % 24;
        dense[HourSlot] = HourSin[hour];
        dense[HourSlot + 1] = HourCos[hour];
        var denseSlots = DenseSlots;
        if (space.SchemaVersion == FeatureSpace.Schema2)
        {
            // Genre × interacted: a copy of the cleaned genres, or zeros (the int8 scorer then skips these groups).
            InteractedGenres(dense, title.Interacted);
            denseSlots = DenseSlotsSchema2;
        }

        features.DenseCount = denseSlots;
        var seed = SeedKey(space.HashSeed);
        var buckets = (ulong)(d - denseSlots);
        var device = (uint)member.Device;
        var day = (uint)(member.DayOfWeek % 7);
        var hourBucket = (uint)hour / 3;
        var weekend = day is 0 or 6 ? 1u : 0u;
        var deviceHour = (device << 8) | hourBucket;
        var countryLanguage = ((uint)member.Country << 16) | member.Language;
        var deviceDayType = (device << 1) | weekend;
        if (Vector512.IsHardwareAccelerated)
        {
            // All eight hashes at once (vpmullq); slots and signs narrowed into one 64-byte store, which is where
            // they lie in SparseFeatures (Slots then Signs) and how the int8 scorer reads them back.
            var input = Vector512.Create(
                Pair(CountryField, member.Country), Pair(LanguageField, member.Language), Pair(DeviceField, device),
                Pair(DayField, day), Pair(HourBucketField, hourBucket), Pair(DeviceHourField, deviceHour),
                Pair(CountryLanguageField, countryLanguage), Pair(DeviceDayTypeField, deviceDayType));
            var h = Hash64.Mix(input ^ Vector512.Create(seed));
            var slots = (((h & Vector512.Create(0xFFFF_FFFFUL)) * buckets) >>> 32) + Vector512.Create((ulong)denseSlots);
            var signs = Vector512<ulong>.One - ((h >>> 63) << 1); // 1 or -1 (two's complement)
            Vector512.Narrow(slots, signs).AsInt32().StoreUnsafe(ref Unsafe.As<HashedSlotVector, int>(ref features.Slots));
            return true;
        }

        if (Avx2.IsSupported)
        {
            // The same eight hashes four at a time (x86-64-v3, the native binary's target: no AVX-512). The finalizer's
            // 64-bit products are built from 32-bit ones (Hash64.Mix, the scalar hash bit for bit); the bucket product
            // is (h mod 2³²) · buckets, buckets < 2¹⁶, one vpmuludq. Slots, then signs, each one 32-byte store.
            var key = Vector256.Create(seed);
            var low = Hash64.Mix(Vector256.Create(
                Pair(CountryField, member.Country), Pair(LanguageField, member.Language), Pair(DeviceField, device), Pair(DayField, day)) ^ key);
            var high = Hash64.Mix(Vector256.Create(
                Pair(HourBucketField, hourBucket), Pair(DeviceHourField, deviceHour), Pair(CountryLanguageField, countryLanguage), Pair(DeviceDayTypeField, deviceDayType)) ^ key);
            var range = Vector256.Create(buckets).AsUInt32();
            var first = Vector256.Create((ulong)denseSlots);
            var slotsLow = (Avx2.Multiply(low.AsUInt32(), range) >>> 32) + first;
            var slotsHigh = (Avx2.Multiply(high.AsUInt32(), range) >>> 32) + first;
            var signsLow = Vector256<ulong>.One - ((low >>> 63) << 1);
            var signsHigh = Vector256<ulong>.One - ((high >>> 63) << 1);
            Vector256.Narrow(slotsLow, slotsHigh).AsInt32().StoreUnsafe(ref Unsafe.As<HashedSlotVector, int>(ref features.Slots));
            Vector256.Narrow(signsLow, signsHigh).AsInt32().StoreUnsafe(ref Unsafe.As<HashedSlotVector, int>(ref features.Signs));
            return true;
        }

        Add(ref features, 0, seed, buckets, denseSlots, CountryField, member.Country);
        Add(ref features, 1, seed, buckets, denseSlots, LanguageField, member.Language);
        Add(ref features, 2, seed, buckets, denseSlots, DeviceField, device);
        Add(ref features, 3, seed, buckets, denseSlots, DayField, day);
        Add(ref features, 4, seed, buckets, denseSlots, HourBucketField, hourBucket);
        Add(ref features, 5, seed, buckets, denseSlots, DeviceHourField, deviceHour);
        Add(ref features, 6, seed, buckets, denseSlots, CountryLanguageField, countryLanguage);
        Add(ref features, 7, seed, buckets, denseSlots, DeviceDayTypeField, deviceDayType);
        return true;
    }

    /// <summary>
    /// Encodes the parts of the vector that depend on the member and the moment only (#12.3: once per page): every
    /// slot of <see cref="TryEncode(in FeatureSpace, in MemberContext, in TitleContext, out SparseFeatures)"/> except the
    /// title's (recommender score, interacted-before and schema 2's genre × interacted), which
    /// <see cref="AddTitle"/> writes per title. The two together give bit for bit what TryEncode gives
    /// (FeatureEncoderTests compares them over random contexts). Returns false when the space is not supported.
    /// </summary>
    public static bool TryEncodeMember(in FeatureSpace space, in MemberContext member, out SparseFeatures features)
    {
        var title = default(TitleContext);
        return TryEncode(space, member, title, out features);
    }

    /// <summary>
    /// Writes the title's slots into <paramref name="features"/>, encoded for the member by
    /// <see cref="TryEncodeMember"/> in a space of schema <paramref name="schema"/>: the hashed features and the
    /// member's dense slots are the title's too, so only these three change from title to title. Every title slot is
    /// written (schema 2's genre × interacted copied or cleared), so <paramref name="features"/> may also hold another
    /// title's vector for the same member (<see cref="TryEncodeInPlace"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddTitle(ref SparseFeatures features, ushort schema, in TitleContext title)
    {
        Span<float> dense = features.Dense;
        dense[RecommenderSlot] = Clean(title.RecommenderScore);
        dense[InteractedSlot] = title.Interacted ? 1f : 0f;
        if (schema == FeatureSpace.Schema2)
        {
            InteractedGenres(dense, title.Interacted);
        }
    }

    /// <summary>
    /// The vector of (member, title) in <paramref name="space"/>, with the member's part taken from
    /// <paramref name="member"/>'s cache when it was encoded for this space (the page's earlier titles), else encoded
    /// now and kept there. Same result as TryEncode; false when the space is not supported.
    /// </summary>
    public static bool TryEncode(in FeatureSpace space, ref MemberFeatures member, in TitleContext title, out SparseFeatures features)
    {
        if (!member.IsEncodedFor(space))
        {
            if (!TryEncodeMember(space, member.Context, out member.Features))
            {
                features = default;
                return false;
            }

            member.MarkEncoded(space);
        }

        features = member.Features;
        AddTitle(ref features, space.SchemaVersion, title);
        return true;
    }

    /// <summary>
    /// As <see cref="TryEncode(in FeatureSpace, ref MemberFeatures, in TitleContext, out SparseFeatures)"/>, but the
    /// vector is built in <paramref name="member"/>'s own <see cref="MemberFeatures.Features"/> (the title's slots
    /// overwritten there) instead of a copy: a selection reads it from there, and the ~200-byte copy per title is gone.
    /// The same vector bit for bit (MemberFeaturesTests, through <see cref="Selection.SelectionEngine"/>).
    /// </summary>
    internal static bool TryEncodeInPlace(in FeatureSpace space, ref MemberFeatures member, in TitleContext title)
    {
        if (!member.IsEncodedFor(space))
        {
            if (!TryEncodeMember(space, member.Context, out member.Features))
            {
                return false;
            }

            member.MarkEncoded(space);
        }

        AddTitle(ref member.Features, space.SchemaVersion, title);
        return true;
    }

    // Schema 2's slots 20-35: the cleaned genres (slots 0-15) when the member interacted with the title, else zeros.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InteractedGenres(Span<float> dense, bool interacted)
    {
        var target = dense.Slice(InteractedGenreSlot, MemberProfile.GenreCount);
        if (!interacted)
        {
            target.Clear();
            return;
        }

        dense.Slice(GenreSlot, MemberProfile.GenreCount).CopyTo(target);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Pair(uint field, uint value) => ((ulong)field << 32) | value;

    /// <summary>The hashed slot (relative to the whole vector) and sign of one categorical value; used by tools and tests.</summary>
    public static (int Slot, float Sign) HashedSlot(in FeatureSpace space, uint field, uint value)
    {
        var h = FeatureHash(SeedKey(space.HashSeed), field, value);
        var dense = space.DenseSlots;
        var buckets = (ulong)(space.Dimension - dense);
        return (dense + (int)(((h & 0xFFFF_FFFF) * buckets) >> 32), (h >> 63) == 0 ? 1f : -1f);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(ref SparseFeatures features, int index, ulong seed, ulong buckets, int denseSlots, uint field, uint value)
    {
        // Signed hashing keeps collisions unbiased: two features sharing a slot cancel in expectation.
        var h = FeatureHash(seed, field, value);
        features.Slots[index] = denseSlots + (int)(((h & 0xFFFF_FFFF) * buckets) >> 32);
        features.Signs[index] = (h >> 63) == 0 ? 1 : -1;
    }

    // One finalizer round per feature: the (field, value) pair fills the 64-bit input, the mixed seed keys it.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong FeatureHash(ulong seedKey, uint field, uint value) => Hash64.Mix(seedKey ^ Pair(field, value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong SeedKey(uint seed) => Hash64.Mix(seed + Hash64.Golden);

    // Non-finite → 0, then clamp to ±NumericLimit, a whole vector at a time (the int8 scorer reads the genres back
    // with loads of the same width, which the CPU can forward straight from these stores).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CleanGenres(ReadOnlySpan<float> genres, Span<float> destination)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            CleanVector(Vector512.Create(genres)).CopyTo(destination);
            return;
        }

        if (Vector256.IsHardwareAccelerated)
        {
            CleanVector(Vector256.Create(genres)).CopyTo(destination);
            CleanVector(Vector256.Create(genres[8..])).CopyTo(destination[8..]);
            return;
        }

        for (var g = 0; g < genres.Length; g++)
        {
            destination[g] = Clean(genres[g]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> CleanVector(Vector512<float> v)
    {
        var finite = Vector512.Equals(v - v, Vector512<float>.Zero); // NaN and ±Inf give NaN here
        var clamped = Vector512.Min(Vector512.Max(v, Vector512.Create(-NumericLimit)), Vector512.Create(NumericLimit));
        return clamped & finite.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> CleanVector(Vector256<float> v)
    {
        var finite = Vector256.Equals(v - v, Vector256<float>.Zero);
        var clamped = Vector256.Min(Vector256.Max(v, Vector256.Create(-NumericLimit)), Vector256.Create(NumericLimit));
        return clamped & finite.AsSingle();
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
