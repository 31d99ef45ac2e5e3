using System.Buffers.Binary;
using EdgeSelector.Storage.Impressions;
using Xunit;

namespace EdgeSelector.Storage.Tests;

/// <summary>
/// <see cref="ImpressionLog.TryPost"/> racing <see cref="ImpressionLog.Dispose"/> (docs/storage.md, "The appender
/// ring"): every post either returned true and is in the log read back after reopening, or returned false. A post that
/// passed the "closing" check while the appender drained its last records must not stay in the ring unseen.
/// </summary>
public sealed class ImpressionLogShutdownRaceTests : IDisposable
{
    private const int Threads = 4;
    private const int MaxPostsPerThread = 200_000;
    private const int Rounds = 12;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TryPost_RacingDispose_EveryPostIsInTheLogOrWasRefused()
    {
        for (var round = 0; round < Rounds; round++)
        {
            var directory = Path.Combine(_dir.Path, $"round-{round}");
            var accepted = new bool[Threads][];
            var posts = new int[Threads];
            var disposing = 0;
            var started = new CountdownEvent(Threads);
            var log = ImpressionLog.Open(ImpressionLogTests.Options(directory) with { AppendRingBytes = 64L << 10 });
            var writers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
            {
                var mine = accepted[t] = new bool[MaxPostsPerThread];
                Span<byte> record = stackalloc byte[16];
                var refusedAfterClose = 0;
                started.Signal();
                // Posts until refused a few times after the close began (or the bound): the posts around the close
                // are the ones under test.
                for (var i = 0; i < MaxPostsPerThread && refusedAfterClose < 3; i++)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(record, t);
                    BinaryPrimitives.WriteInt64LittleEndian(record[4..], i);
                    var closing = Volatile.Read(ref disposing) != 0;
                    mine[i] = log.TryPost(record);
                    posts[t] = i + 1;
                    if (!mine[i] && closing)
                    {
                        refusedAfterClose++;
                    }
                }
            })).ToArray();
            foreach (var writer in writers)
            {
                writer.Start();
            }

            Assert.True(started.Wait(TimeSpan.FromSeconds(30)), "the writers did not start");
            Thread.Sleep(round % 4); // close at varying points of the posting
            Volatile.Write(ref disposing, 1);
            log.Dispose();
            foreach (var writer in writers)
            {
                Assert.True(writer.Join(TimeSpan.FromMinutes(1)), "a writer is still posting after a minute");
            }

            Assert.Equal(0, log.AppenderDropped); // the disk is healthy: nothing was dropped at close
            Assert.False(log.TryPost(new byte[16])); // closed

            var seen = new bool[Threads][];
            for (var t = 0; t < Threads; t++)
            {
                seen[t] = new bool[MaxPostsPerThread];
            }

            var errors = new List<string>();
            using (var reopened = ImpressionLog.Open(ImpressionLogTests.Options(directory)))
            {
                var reader = reopened.OpenReader("all");
                while (reader.TryReadNext(new Collector(seen, errors)))
                {
                }
            }

            Assert.Empty(errors);
            for (var t = 0; t < Threads; t++)
            {
                for (var i = 0; i < posts[t]; i++)
                {
                    Assert.True(seen[t][i] == accepted[t][i], $"round {round}: thread {t} post {i}: TryPost returned {accepted[t][i]}, in the log after reopen: {seen[t][i]}");
                }
            }
        }
    }

    private readonly struct Collector(bool[][] seen, List<string> errors) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            var thread = record.Length == 16 ? BinaryPrimitives.ReadInt32LittleEndian(record) : -1;
            var sequence = record.Length == 16 ? BinaryPrimitives.ReadInt64LittleEndian(record[4..]) : -1;
            if ((uint)thread >= (uint)seen.Length || (ulong)sequence >= (ulong)seen[thread].Length || seen[thread][sequence])
            {
                errors.Add($"unexpected or repeated entry (thread {thread}, post {sequence}) at {address}");
                return;
            }

            seen[thread][sequence] = true;
        }
    }
}
