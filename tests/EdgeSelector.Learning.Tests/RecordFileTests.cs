using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Numerics;
using EdgeSelector.Learning.Logging;
using Xunit;

namespace EdgeSelector.Learning.Tests;

public class RecordFileTests
{
    [Fact]
    public void WriteThenRead_MixedImpressionsAndRewards_RoundTripInOrder()
    {
        using var dir = new TempDirectory();
        var path = dir.File("log.esrf");
        using (var writer = new RecordFileWriter(path))
        {
            for (var i = 0; i < 10_000; i++)
            {
                writer.Append(new ImpressionRecord { EventId = (ulong)i, Propensity = 0.25, ChosenIndex = (ushort)(i % 4) });
                if (i % 3 == 0)
                {
                    writer.Append(new RewardRecord { EventId = (ulong)i, PlayStarted = true });
                }
            }
        }

        using var reader = new RecordFileReader(path);
        long impressions = 0, rewards = 0;
        while (reader.TryRead(out var payload))
        {
            switch (LogRecord.PeekKind(payload))
            {
                case LogRecordKind.ImpressionPage:
                    Assert.True(ImpressionEntry.TryRead(payload, out var entry));
                    Assert.Equal(1, entry.Count);
                    entry.GetImpression(0, out var r);
                    Assert.Equal((ulong)impressions, r.EventId);
                    Assert.Equal((ushort)(impressions % 4), r.ChosenIndex);
                    impressions++;
                    break;
                case LogRecordKind.Reward:
                    Assert.True(RewardRecord.TryRead(payload, out var w));
                    Assert.Equal(0UL, w.EventId % 3);
                    rewards++;
                    break;
                default:
                    Assert.Fail("unknown record kind");
                    break;
            }
        }

        Assert.Equal(10_000, impressions);
        Assert.Equal(3334, rewards);
        Assert.False(reader.TornTail);
    }

    [Fact]
    public void Read_Version1PerTitleRecordsBesidePages_BothReadAsImpressions()
    {
        // A file written before the page entry holds per-title records; one written since, pages. Both read alike.
        using var dir = new TempDirectory();
        var path = dir.File("mixed.esrf");
        var old = new byte[ImpressionRecord.RecordSize];
        using (var writer = new RecordFileWriter(path))
        {
            new ImpressionRecord { EventId = 1, TitleId = 10, Propensity = 0.5 }.WriteRecord(old);
            writer.Append(old);
            writer.Append(new ImpressionRecord { EventId = 2, TitleId = 20, Propensity = 0.25 });
        }

        using var reader = new RecordFileReader(path);
        var seen = new List<(ulong, uint, double)>();
        while (reader.TryRead(out var payload))
        {
            Assert.True(ImpressionEntry.TryRead(payload, out var entry));
            foreach (var impression in entry)
            {
                seen.Add((impression.EventId, impression.TitleId, impression.Propensity));
            }
        }

        Assert.Equal([(1UL, 10U, 0.5), (2UL, 20U, 0.25)], seen);
    }

    [Fact]
    public void Read_FileCutMidRecord_ReportsTornTailAfterTheWholeRecords()
    {
        using var dir = new TempDirectory();
        var path = dir.File("torn.esrf");
        using (var writer = new RecordFileWriter(path))
        {
            for (var i = 0; i < 3; i++)
            {
                writer.Append(new ImpressionRecord { EventId = (ulong)i, Propensity = 1 });
            }
        }

        var bytes = File.ReadAllBytes(path);
        // Every cut inside the last frame leaves two whole records and a torn tail.
        var frame = RecordFileFormat.FrameHeaderSize + ImpressionPage.SizeOf(1);
        for (var cut = bytes.Length - frame + 1; cut < bytes.Length; cut++)
        {
            File.WriteAllBytes(path, bytes[..cut]);
            using var reader = new RecordFileReader(path);
            var count = 0;
            while (reader.TryRead(out _))
            {
                count++;
            }

            Assert.Equal(2, count);
            Assert.True(reader.TornTail);
        }
    }

    [Fact]
    public void Read_FlippedPayloadByte_ThrowsNamingTheOffset()
    {
        using var dir = new TempDirectory();
        var path = dir.File("corrupt.esrf");
        using (var writer = new RecordFileWriter(path))
        {
            writer.Append(new ImpressionRecord { EventId = 1, Propensity = 1 });
            writer.Append(new ImpressionRecord { EventId = 2, Propensity = 1 });
        }

        var bytes = File.ReadAllBytes(path);
        var secondFrame = RecordFileFormat.HeaderSize + RecordFileFormat.FrameHeaderSize + ImpressionPage.SizeOf(1);
        bytes[secondFrame + RecordFileFormat.FrameHeaderSize + 20] ^= 0x40;
        File.WriteAllBytes(path, bytes);

        using var reader = new RecordFileReader(path);
        Assert.True(reader.TryRead(out _));
        var error = Assert.Throws<InvalidDataException>(() => reader.TryRead(out _));
        Assert.Contains($"byte {secondFrame}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_NotARecordFile_Throws()
    {
        using var dir = new TempDirectory();
        var path = dir.File("text.csv");
        File.WriteAllText(path, "action,propensity,reward\n");
        Assert.Throws<InvalidDataException>(() => new RecordFileReader(path));
    }

    [Fact]
    public void Crc32C_KnownVector_MatchesStandard()
    {
        // RFC 3720 B.4 / the usual check value: CRC-32C("123456789") = 0xE3069283.
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
    }
}
