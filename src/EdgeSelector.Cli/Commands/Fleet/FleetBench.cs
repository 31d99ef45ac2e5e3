using System.Diagnostics;
using System.Globalization;
using EdgeSelector.Fleet;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary>
/// <c>edgesel fleet bench</c>: what one JetStream stream takes in packed event messages, published the way a node's
/// shipper does (one message in flight per publisher, each waiting for its acknowledgement), on a scratch stream that
/// is deleted afterwards. The numbers docs/fleet.md's capacity arithmetic uses.
/// </summary>
internal static class FleetBench
{
    private const string Stream = "ES_BENCH";

    public static int Run(FleetConnection connection, int replicas, int messages, int bytes, int publishers, TextWriter stdout)
    {
        var js = connection.JetStream;
        js.CreateOrUpdateStreamAsync(new StreamConfig(Stream, ["es.bench.*"])
        {
            Storage = StreamConfigStorage.File,
            NumReplicas = replicas,
            DuplicateWindow = TimeSpan.FromMinutes(2),
        }).AsTask().GetAwaiter().GetResult();
        try
        {
            var payload = new byte[bytes];
            Random.Shared.NextBytes(payload);
            var watch = Stopwatch.StartNew();
            var tasks = Enumerable.Range(0, publishers).Select(p => Task.Run(async () =>
            {
                var opts = new NatsJSPubOpts();
                for (var i = p; i < messages; i += publishers)
                {
                    var ack = await js.PublishAsync(string.Create(CultureInfo.InvariantCulture, $"es.bench.{p}"), payload, opts: opts with { MsgId = string.Create(CultureInfo.InvariantCulture, $"bench.{p}.{i}") }).ConfigureAwait(false);
                    ack.EnsureSuccess();
                }
            })).ToArray();
            Task.WaitAll(tasks);
            var seconds = watch.Elapsed.TotalSeconds;
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{messages} messages of {bytes} bytes, {publishers} publisher(s), R{replicas}: {messages / seconds:F0} messages/s, {messages * (double)bytes / seconds / (1 << 20):F1} MB/s ({seconds:F2} s)"));
        }
        finally
        {
            js.DeleteStreamAsync(Stream).AsTask().GetAwaiter().GetResult();
        }

        return Program.ExitOk;
    }
}
