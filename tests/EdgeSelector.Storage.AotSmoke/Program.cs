using System.Buffers.Binary;
using System.Diagnostics;
using EdgeSelector.Core.Features;
using EdgeSelector.Storage.Impressions;
using EdgeSelector.Storage.Models;
using EdgeSelector.Storage.Profiles;

namespace EdgeSelector.Storage.AotSmoke;

/// <summary>
/// Runs the three stores end to end in a native AOT binary and prints allocation and latency figures:
/// <c>dotnet publish tests/EdgeSelector.Storage.AotSmoke -c Release -o /tmp/storage-aot &amp;&amp; /tmp/storage-aot/EdgeSelector.Storage.AotSmoke</c>.
/// Exit code 0 on success, 1 on the first failed check.
/// </summary>
public static class Program
{
    public static int Main()
    {
        string dir = Path.Combine(Path.GetTempPath(), "edgesel-aot-smoke-" + Guid.NewGuid().ToString("N"));
        try
        {
            Models(Path.Combine(dir, "models"));
            Profiles(Path.Combine(dir, "profiles"));
            Impressions(Path.Combine(dir, "impressions"));
            Console.WriteLine("AOT SMOKE OK");
            return 0;
        }
        catch (InvalidOperationException e)
        {
            Console.WriteLine("FAIL " + e.Message);
            return 1;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Models(string dir)
    {
        var options = new ModelStoreOptions { DataDirectory = dir, MemoryBytes = 32L << 20, PageBytes = 1L << 20, SegmentBytes = 8L << 20, IndexBytes = 1L << 20, Readers = [ModelReader.For<VersionProbe>()] };
        using (var store = ModelStore.Open(options))
        {
            var model = new byte[256];
            for (ulong version = 1; version <= 4; version++)
            {
                using var writer = store.BeginBundle(version, partial: version == 4);
                BinaryPrimitives.WriteUInt64LittleEndian(model, version);
                var validator = default(LengthValidator);
                uint titles = version == 4 ? 2u : 100u;
                for (uint title = 1; title <= titles; title++)
                {
                    Check(writer.TryAdd(title, model, ref validator), "validator accepts");
                }

                writer.Commit();
            }

            var probe = default(VersionProbe);
            Check(store.LogBeginAddress > 64, "log compacted below the oldest kept bundle");
            Check(store.TryRead(50, ref probe) && probe.Version == 3, "partial bundle carries over title 50");
            Check(store.TryRead(1, ref probe) && probe.Version == 4, "title 1 from bundle 4");
            using (var snapshot = store.AcquireSnapshot())
            {
                Check(snapshot.TryRead(2, ref probe) && probe.Version == 4 && snapshot.Version == 4, "snapshot read");
            }

            Check(store.Rollback() && store.Version == 3, "rollback to bundle 3");
            for (int round = 0; round < 3; round++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 10_000; i++)
                {
                    store.TryRead((uint)(i % 100) + 1, ref probe);
                }

                Console.WriteLine($"models: round {round}: 10,000 reads allocated {GC.GetAllocatedBytesForCurrentThread() - before} bytes");
            }

            var clock = Stopwatch.StartNew();
            for (int i = 0; i < 1_000_000; i++)
            {
                store.TryRead((uint)(i % 100) + 1, ref probe);
            }

            Console.WriteLine($"models: {clock.Elapsed.TotalMilliseconds:F3} ns/read in place (1M reads, 256 B models, one thread)");
        }

        using (var store = ModelStore.Open(options))
        {
            var probe = default(VersionProbe);
            Check(store.Version == 3 && store.PreviousVersion == 2 && store.TryRead(7, ref probe) && probe.Version == 3, "model recovery");
        }
    }

    private static void Profiles(string dir)
    {
        const int Count = 100_000;
        var options = new ProfileStoreOptions { DataDirectory = dir, MemoryBytes = 2L << 20, PageBytes = 64L << 10, SegmentBytes = 4L << 20, IndexBytes = 4L << 20 };
        using (var store = ProfileStore.Open(options))
        {
            var ids = new ulong[Count];
            var profiles = new MemberProfile[Count];
            for (int i = 0; i < Count; i++)
            {
                ids[i] = (ulong)i * 13;
                profiles[i].Country = (ushort)i;
                profiles[i].Genres[3] = i;
            }

            store.UpsertMany(ids, profiles);
            store.Checkpoint();
        }

        using (var store = ProfileStore.Open(options))
        {
            for (int i = 0; i < Count; i++)
            {
                Check(store.TryGet((ulong)i * 13, out var profile) && profile.Country == (ushort)i && profile.Genres[3] == i, $"profile {i}");
            }

            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10_000; i++)
            {
                store.TryGet((ulong)(99_000 + (i % 1_000)) * 13, out _);
            }

            Console.WriteLine($"profiles: 10,000 in-memory reads allocated {GC.GetAllocatedBytesForCurrentThread() - before} bytes");
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < 1_000_000; i++)
            {
                store.TryGet((ulong)(99_000 + (i % 1_000)) * 13, out _);
            }

            Console.WriteLine($"profiles: {clock.Elapsed.TotalMilliseconds:F3} ns/read from memory (1M reads)");
            clock.Restart();
            for (int i = 0; i < 2_000; i++)
            {
                store.TryGet((ulong)((i * 37) % 50_000) * 13, out _);
            }

            Console.WriteLine($"profiles: {clock.Elapsed.TotalMilliseconds * 1000 / 2_000:F1} us/read of evicted records (OS page cache may be warm)");
        }
    }

    private static void Impressions(string dir)
    {
        const int Count = 20_000;
        var options = new ImpressionLogOptions { DataDirectory = dir, MemoryBytes = 1L << 20, PageBytes = 64L << 10, SegmentBytes = 256L << 10 };
        using (var log = ImpressionLog.Open(options))
        {
            var record = new byte[40];
            long last = 0;
            for (int i = 0; i < Count; i++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(record, i);
                while (!log.TryEnqueue(record, out last))
                {
                    Thread.Yield();
                }
            }

            Check(log.WaitForCommitAsync(last).AsTask().Wait(TimeSpan.FromSeconds(10)), "group commit within 10 s");
        }

        using (var log = ImpressionLog.Open(options))
        {
            var reader = log.OpenReader("smoke");
            var counter = new Counter();
            while (reader.TryReadNext(new CountingConsumer(counter)))
            {
            }

            Check(counter.Count == Count && counter.InOrder, "impression log round trip");
        }
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException(what);
        }
    }

    private struct VersionProbe : IModelVisitor
    {
        public ulong Version;

        public void Visit(uint titleId, ReadOnlySpan<byte> model) => Version = BinaryPrimitives.ReadUInt64LittleEndian(model);
    }

    private readonly struct LengthValidator : IModelValidator
    {
        public bool Validate(uint titleId, ReadOnlySpan<byte> model) => model.Length >= 8;
    }

    private sealed class Counter
    {
        public int Count;
        public bool InOrder = true;
    }

    private readonly struct CountingConsumer(Counter counter) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            counter.InOrder &= BinaryPrimitives.ReadInt32LittleEndian(record) == counter.Count;
            counter.Count++;
        }
    }
}
