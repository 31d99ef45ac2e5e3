using System.Buffers.Binary;
using EdgeSelector.Storage.Impressions;

namespace EdgeSelector.Storage.Tests;

/// <summary>
/// Child-process side of <see cref="ImpressionLogTests.Kill9_AfterReportedCommits_EveryReportedEntryIsReadable"/>:
/// appends numbered entries as fast as it can and prints "committed N" whenever the first N entries are durable,
/// until the parent kills it.
/// </summary>
internal static class ImpressionLogCrashHelper
{
    public const string Verb = "impression-log-crash-helper";
    public const int RecordBytes = 48;
    public const string PostMode = "post";

    public static int Run(string directory)
    {
        var log = ImpressionLog.Open(ImpressionLogTests.Options(directory));
        var addresses = new List<long>(1 << 20);
        Span<byte> record = stackalloc byte[RecordBytes];
        long lastReported = -1;
        var deadline = DateTime.UtcNow.AddSeconds(60); // the parent kills us long before; never outlive a dead parent
        while (DateTime.UtcNow < deadline)
        {
            for (int i = 0; i < 256; i++)
            {
                Fill(record, (ulong)addresses.Count);
                if (log.TryEnqueue(record, out long address))
                {
                    addresses.Add(address);
                }
            }

            long committed = CountBelow(addresses, log.CommittedUntilAddress);
            if (committed > lastReported)
            {
                Console.Out.WriteLine($"committed {committed}");
                Console.Out.Flush();
                lastReported = committed;
            }
        }

        return 0;
    }

    /// <summary>
    /// Through the appender ring (<see cref="ImpressionLog.TryPost"/>): posts numbered entries and, after every 256, prints
    /// "committed N" once <see cref="ImpressionLog.LagBytes"/> reads 0 (what the server reports in /metrics), N being
    /// every entry posted so far.
    /// </summary>
    public static int RunPosting(string directory)
    {
        var log = ImpressionLog.Open(ImpressionLogTests.Options(directory) with { AppendRingBytes = 256L << 10 });
        Span<byte> record = stackalloc byte[RecordBytes];
        ulong posted = 0;
        var deadline = DateTime.UtcNow.AddSeconds(60); // the parent kills us long before; never outlive a dead parent
        while (DateTime.UtcNow < deadline)
        {
            for (int i = 0; i < 256; i++)
            {
                Fill(record, posted);
                if (log.TryPost(record))
                {
                    posted++;
                }
            }

            var wait = DateTime.UtcNow.AddSeconds(5);
            while (log.LagBytes != 0 && DateTime.UtcNow < wait)
            {
                Thread.Sleep(1);
            }

            if (log.LagBytes == 0)
            {
                Console.Out.WriteLine($"committed {posted}");
                Console.Out.Flush();
            }
        }

        return 0;
    }

    public static void Fill(Span<byte> record, ulong sequence)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(record, sequence);
        for (int i = 8; i < record.Length; i++)
        {
            record[i] = (byte)(sequence + (ulong)i);
        }
    }

    public static bool Check(ReadOnlySpan<byte> record, ulong sequence)
    {
        if (record.Length != RecordBytes || BinaryPrimitives.ReadUInt64LittleEndian(record) != sequence)
        {
            return false;
        }

        for (int i = 8; i < record.Length; i++)
        {
            if (record[i] != (byte)(sequence + (ulong)i))
            {
                return false;
            }
        }

        return true;
    }

    private static long CountBelow(List<long> addresses, long committedUntil)
    {
        int index = addresses.BinarySearch(committedUntil);
        return index >= 0 ? index : ~index;
    }
}
