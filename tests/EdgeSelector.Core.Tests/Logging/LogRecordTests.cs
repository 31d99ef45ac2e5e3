using System.Buffers.Binary;
using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using Xunit;

namespace EdgeSelector.Core.Tests.Logging;

public class LogRecordTests
{
    internal static ImpressionRecord Sample()
    {
        var r = new ImpressionRecord
        {
            EventId = 0x0102030405060708,
            TimestampMs = 1_764_300_000_123,
            MemberId = ulong.MaxValue - 5,
            TitleId = 80_100_172,
            ChosenImageId = 4_000_000_001,
            ChosenIndex = 3,
            CandidateCount = 7,
            Propensity = 0.1 / 7,
            PolicyKind = PolicyKind.EpsilonGreedy,
            PolicyParameter = 0.1f,
            ModelVersion = 42,
            Fallback = FallbackReason.Deadline,
            Country = CountryCode.Pack("US"),
            Language = CountryCode.Pack("es"),
            Device = DeviceClass.Tv,
            LocalHour = 21,
            DayOfWeek = 5,
            RecommenderScore = 0.75f,
            InteractedBefore = 1,
        };
        for (var i = 0; i < MemberProfile.GenreCount; i++)
        {
            r.Genres[i] = i / 16f;
        }

        return r;
    }

    [Fact]
    public void Impression_RoundTrip_PreservesEveryField()
    {
        var record = Sample();
        Span<byte> buffer = stackalloc byte[ImpressionRecord.RecordSize];
        Assert.True(record.TryWriteRecord(buffer));
        Assert.True(ImpressionRecord.TryReadRecord(buffer, out var back));

        Assert.Equal(record.EventId, back.EventId);
        Assert.Equal(record.TimestampMs, back.TimestampMs);
        Assert.Equal(record.MemberId, back.MemberId);
        Assert.Equal(record.TitleId, back.TitleId);
        Assert.Equal(record.ChosenImageId, back.ChosenImageId);
        Assert.Equal(record.ChosenIndex, back.ChosenIndex);
        Assert.Equal(record.CandidateCount, back.CandidateCount);
        Assert.Equal(record.Propensity, back.Propensity);
        Assert.Equal(record.PolicyKind, back.PolicyKind);
        Assert.Equal(record.PolicyParameter, back.PolicyParameter);
        Assert.Equal(record.ModelVersion, back.ModelVersion);
        Assert.Equal(record.Fallback, back.Fallback);
        Assert.Equal(record.Country, back.Country);
        Assert.Equal(record.Language, back.Language);
        Assert.Equal(record.Device, back.Device);
        Assert.Equal(record.LocalHour, back.LocalHour);
        Assert.Equal(record.DayOfWeek, back.DayOfWeek);
        Assert.Equal(record.RecommenderScore, back.RecommenderScore);
        Assert.Equal(record.InteractedBefore, back.InteractedBefore);
        for (var i = 0; i < MemberProfile.GenreCount; i++)
        {
            Assert.Equal(record.Genres[i], back.Genres[i]);
        }
    }

    [Fact]
    public void Impression_Write_MatchesDocumentedOffsets()
    {
        var buffer = new byte[ImpressionRecord.RecordSize];
        Sample().WriteRecord(buffer);

        Assert.Equal(1, buffer[0]);
        Assert.Equal((byte)LogRecordKind.Impression, buffer[1]);
        Assert.Equal((byte)PolicyKind.EpsilonGreedy, buffer[2]);
        Assert.Equal((byte)FallbackReason.Deadline, buffer[3]);
        Assert.Equal(3, BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(4)));
        Assert.Equal(7, BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(6)));
        Assert.Equal(0x0102030405060708UL, BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(8)));
        Assert.Equal(0.1 / 7, BinaryPrimitives.ReadDoubleLittleEndian(buffer.AsSpan(40)));
        Assert.Equal(80_100_172U, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(48)));
        Assert.Equal(('U' << 8) | 'S', BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(64)));
        Assert.Equal((byte)DeviceClass.Tv, buffer[68]);
        Assert.Equal(15 / 16f, BinaryPrimitives.ReadSingleLittleEndian(buffer.AsSpan(72 + (15 * 4))));
    }

    [Fact]
    public void Impression_TryRead_RejectsShortWrongVersionAndWrongKind()
    {
        var buffer = new byte[ImpressionRecord.RecordSize];
        Sample().WriteRecord(buffer);

        Assert.False(ImpressionRecord.TryReadRecord(buffer.AsSpan(0, ImpressionRecord.RecordSize - 1), out _));
        buffer[0] = 2;
        Assert.False(ImpressionRecord.TryReadRecord(buffer, out _));
        buffer[0] = 1;
        buffer[1] = (byte)LogRecordKind.Reward;
        Assert.False(ImpressionRecord.TryReadRecord(buffer, out _));
        Assert.False(Sample().TryWriteRecord(new byte[ImpressionRecord.RecordSize - 1]));
        Assert.Throws<ArgumentException>(() => Sample().WriteRecord(new byte[10]));
    }

    [Fact]
    public void Reward_RoundTrip_AndKindIsPeekable()
    {
        var reward = new RewardRecord
        {
            EventId = 99,
            TimestampMs = 1_764_300_060_000,
            PlayStarted = true,
            MinutesWatched = 42.5f,
            FractionCompleted = 0.8f,
        };
        Span<byte> buffer = stackalloc byte[RewardRecord.Size];
        reward.Write(buffer);

        Assert.Equal(LogRecordKind.Reward, LogRecord.PeekKind(buffer));
        Assert.False(ImpressionRecord.TryReadRecord(buffer, out _));
        Assert.True(RewardRecord.TryRead(buffer, out var back));
        Assert.Equal(reward.EventId, back.EventId);
        Assert.Equal(reward.TimestampMs, back.TimestampMs);
        Assert.True(back.PlayStarted);
        Assert.Equal(42.5f, back.MinutesWatched);
        Assert.Equal(0.8f, back.FractionCompleted);
    }

    [Fact]
    public void PeekKind_IgnoresVersions_EachKindOwnsItsOwn()
    {
        // The trap this pins: PeekKind used to compare byte 0 with the impression layout's version, so a new
        // impression version would have made every reward unreadable to the join. Versions belong to their kind.
        var reward = new byte[RewardRecord.Size];
        new RewardRecord { EventId = 7 }.Write(reward);
        var page = new byte[ImpressionPage.SizeOf(1)];
        ImpressionPageWriter.WriteSingle(page, Sample());

        Assert.Equal(LogRecordKind.Reward, LogRecord.PeekKind(reward));
        Assert.Equal(LogRecordKind.ImpressionPage, LogRecord.PeekKind(page));
        reward[0] = 9;
        Assert.Equal(LogRecordKind.Reward, LogRecord.PeekKind(reward));
        Assert.Equal(9, LogRecord.PeekVersion(reward));
        Assert.False(RewardRecord.TryRead(reward, out _));
        Assert.Equal((LogRecordKind)0, LogRecord.PeekKind(reward.AsSpan(0, 1)));
    }

    [Fact]
    public void ReadAndWrite_AllocateNothing()
    {
        var record = Sample();
        var buffer = new byte[ImpressionRecord.RecordSize];
        var rewardBuffer = new byte[RewardRecord.Size];
        var reward = new RewardRecord { EventId = 1, PlayStarted = true };
        record.WriteRecord(buffer);
        _ = ImpressionRecord.TryReadRecord(buffer, out _);

        var before = GC.GetAllocatedBytesForCurrentThread();
        ulong sum = 0;
        for (var i = 0; i < 1000; i++)
        {
            record.WriteRecord(buffer);
            _ = ImpressionRecord.TryReadRecord(buffer, out var back);
            reward.Write(rewardBuffer);
            _ = RewardRecord.TryRead(rewardBuffer, out var r);
            sum += back.EventId + r.EventId;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.NotEqual(0UL, sum);
    }

    [Fact]
    public void FromDecision_ThenGetContexts_RebuildsTheSameFeatureVector()
    {
        var member = TestModels.Member(77, seed: 3);
        var title = TestModels.Title(42);
        var blob = TestModels.Random(images: 5, dimension: 64, seed: 9).Serialize();
        Assert.True(Models.ModelView.TryOpen(blob, Models.ModelCheck.Full, out var model, out _));
        var decision = new Selection.SelectionEngine(new Selection.SelectionOptions()).Select(model, member, title, 1_764_300_000_000);

        var record = ImpressionRecord.FromDecision(5, 1_764_300_000_000, decision, model.ImageCount, member, title);
        var buffer = new byte[ImpressionRecord.RecordSize];
        record.WriteRecord(buffer);
        Assert.True(ImpressionRecord.TryReadRecord(buffer, out var back));
        back.GetContexts(out var member2, out var title2);

        Assert.Equal((double)decision.Propensity, back.Propensity);
        Assert.Equal(decision.Index, back.ChosenIndex);
        Assert.Equal(decision.Policy, back.PolicyKind);
        var x1 = new float[64];
        var x2 = new float[64];
        Assert.True(FeatureEncoder.TryEncode(model.FeatureSpace, member, title, x1));
        Assert.True(FeatureEncoder.TryEncode(model.FeatureSpace, member2, title2, x2));
        Assert.Equal(x1, x2);
    }
}
