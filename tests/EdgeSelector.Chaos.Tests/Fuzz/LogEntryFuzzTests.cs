using CsCheck;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Learning.Logging;
using EdgeSelector.Primitives;

namespace EdgeSelector.Chaos.Tests.Fuzz;

/// <summary>
/// The impression-log entry readers (docs/impression-log.md: <see cref="ImpressionRecord"/>, <see cref="RewardRecord"/>,
/// <see cref="LogRecord.PeekKind"/>) and the record files the trainer reads (<see cref="RecordFileReader"/>): any bytes
/// give a record, "not this kind" or the documented <see cref="InvalidDataException"/>, never anything else; a decoded
/// impression, however damaged, can be encoded into features as the trainer does; written records read back equal.
/// </summary>
public sealed class LogEntryFuzzTests
{
    private static readonly Gen<byte[]> Impressions = Gen.Select(Gen.ULong, Gen.Long, Gen.ULong, Gen.UInt, Gen.Double, Gen.Byte[0, 7], Gen.Float[0f, 1f].Array[16], Gen.Byte[0, 23],
        (eventId, time, member, title, propensity, reason, genres, hour) =>
        {
            var record = new ImpressionRecord
            {
                EventId = eventId,
                TimestampMs = time,
                MemberId = member,
                TitleId = title,
                ChosenImageId = title ^ 0x5555,
                ChosenIndex = (ushort)(hour % 3),
                CandidateCount = 3,
                Propensity = propensity,
                Fallback = (FallbackReason)reason,
                Country = CountryCode.Pack("US"),
                Device = DeviceClass.Phone,
                LocalHour = hour,
                DayOfWeek = (byte)(hour % 7),
                RecommenderScore = 0.5f,
            };
            for (var i = 0; i < genres.Length; i++)
            {
                record.Genres[i] = genres[i];
            }

            var bytes = new byte[ImpressionRecord.RecordSize];
            record.WriteRecord(bytes);
            return bytes;
        });

    private static readonly Gen<byte[]> Rewards = Gen.Select(Gen.ULong, Gen.Long, Gen.Bool, Gen.Float, Gen.Float, (id, time, played, minutes, fraction) =>
    {
        var bytes = new byte[RewardRecord.Size];
        new RewardRecord { EventId = id, TimestampMs = time, PlayStarted = played, MinutesWatched = minutes, FractionCompleted = fraction }.Write(bytes);
        return bytes;
    });

    // A page entry (kind 3, what the server writes): the member once, then one 40-byte block per title.
    private static readonly Gen<byte[]> Pages = Gen.Select(Impressions.Array[1, 12], records =>
    {
        ImpressionRecord.TryReadRecord(records[0], out var first);
        first.GetContexts(out var member, out _);
        var bytes = new byte[ImpressionPage.SizeOf(records.Length)];
        var page = new ImpressionPageWriter(bytes, records.Length, first.EventId, first.TimestampMs, in member, first.MemberFlags, first.Arm);
        for (var i = 0; i < records.Length; i++)
        {
            ImpressionRecord.TryReadRecord(records[i], out var record);
            page.SetTitle(i, TitleDecision.From(record));
        }

        return bytes;
    });

    private static readonly Gen<byte[]> Entries = Gen.OneOf(Gen.Byte.Array[0, 200], Fuzz.Mutations(Impressions), Fuzz.Mutations(Rewards), Fuzz.Mutations(Pages), Impressions, Rewards, Pages);

    [Fact]
    public Task AnyEntry_ReadsOrIsRefused_AndADecodedImpressionEncodes() =>
        Fuzz.RunAsync(Entries, ReadEntry, print: Fuzz.Hex);

    [Fact]
    public Task WrittenRecords_ReadBackEqual() =>
        Fuzz.RunAsync(Gen.Select(Impressions, Rewards, (i, r) => (i, r)), input =>
        {
            Assert.True(ImpressionRecord.TryReadRecord(input.i, out var impression));
            var again = new byte[ImpressionRecord.RecordSize];
            impression.WriteRecord(again);
            Assert.Equal(input.i, again);
            Assert.True(RewardRecord.TryRead(input.r, out var reward));
            var rewardAgain = new byte[RewardRecord.Size];
            reward.Write(rewardAgain);
            Assert.Equal(input.r, rewardAgain);
        });

    [Fact]
    public Task AnyRecordFile_ReadsOrInvalidData_NeverAnythingElse() =>
        Fuzz.RunAsync(Fuzz.Mutations(Entries.Array[0, 6].Select(RecordFile)), bytes =>
        {
            try
            {
                using var reader = new RecordFileReader(new MemoryStream(bytes, writable: false));
                for (var i = 0; i <= bytes.Length && reader.TryRead(out var payload); i++)
                {
                    ReadEntry(payload.ToArray());
                }
            }
            catch (InvalidDataException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
            }
        }, print: Fuzz.Hex);

    internal static void ReadEntry(byte[] bytes)
    {
        _ = LogRecord.PeekKind(bytes);
        // What every reader (join, train, evaluate, record files) does: a page entry or a per-title record, expanded into
        // per-title impressions, each encoded into features as the trainer does.
        if (ImpressionEntry.TryRead(bytes, out var entry))
        {
            Assert.InRange(entry.Count, 1, ushort.MaxValue);
            Span<float> x = stackalloc float[FeatureSpace.Default.Dimension];
            for (var i = 0; i < entry.Count; i++)
            {
                entry.GetImpression(i, out var impression);
                impression.GetContexts(out var member, out var title);
                _ = FeatureEncoder.TryEncode(FeatureSpace.Default, in member, in title, x);
            }
        }

        _ = RewardRecord.TryRead(bytes, out _);
    }

    private static byte[] RecordFile(byte[][] payloads)
    {
        using var stream = new MemoryStream();
        using (var writer = new RecordFileWriter(stream))
        {
            foreach (var payload in payloads)
            {
                writer.Append(payload);
            }

            writer.Flush();
            return stream.ToArray();
        }
    }
}
