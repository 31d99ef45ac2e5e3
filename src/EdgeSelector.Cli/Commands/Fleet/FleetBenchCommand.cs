using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EdgeSelector.Cli.Infrastructure;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary>
/// <c>edgesel fleet bench</c>: what one JetStream stream takes in packed event messages, published the way a node's
/// shipper does (one message in flight per publisher, each waiting for its acknowledgement), on a scratch stream that
/// is deleted afterwards. The numbers docs/fleet.md's capacity arithmetic uses.
/// </summary>
internal sealed class FleetBenchCommand : CliCommand
{
    private const string Stream = "ES_BENCH";

    private readonly Option<string> _nats = SharedOptions.Nats("NATS servers of the fleet, comma-separated (nats://host:4222,...)", required: true);

    private readonly Option<int> _replicas = SharedOptions.Range(new Option<int>("--replicas")
    {
        Description = "Copies of the scratch stream",
        HelpName = "N",
        DefaultValueFactory = _ => 3,
    }, 1, 5);

    private readonly Option<int> _messages = SharedOptions.Positive(new Option<int>("--messages")
    {
        Description = "Messages to publish",
        HelpName = "N",
        DefaultValueFactory = _ => 2000,
    });

    private readonly Option<int> _bytes = SharedOptions.Range(new Option<int>("--bytes")
    {
        Description = "Bytes per message (a node's shipper packs up to ShipBatchKB, default 256 KB)",
        HelpName = "B",
        DefaultValueFactory = _ => 256 * 1024,
    }, 1, 1 << 20);

    private readonly Option<int> _publishers = SharedOptions.Positive(new Option<int>("--publishers")
    {
        Description = "Concurrent publishers, each waiting for the acknowledgement of its message before the next",
        HelpName = "P",
        DefaultValueFactory = _ => 1,
    });

    public FleetBenchCommand()
        : base("bench", "Publish packed-size messages to a scratch stream (deleted after) as node shippers do, and print messages/s and MB/s")
    {
        Options.Add(_nats);
        Options.Add(_replicas);
        Options.Add(_messages);
        Options.Add(_bytes);
        Options.Add(_publishers);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var url = parse.GetRequiredValue(_nats);
        var (replicas, messages, bytes, publishers) = (parse.GetValue(_replicas), parse.GetValue(_messages), parse.GetValue(_bytes), parse.GetValue(_publishers));
        var cancellation = context.Cancellation;
        var connection = FleetCli.Connect(url, "fleet-bench", cancellation);
        using var _ = FleetCli.AsDisposable(connection);
        var js = connection.JetStream;
        js.CreateOrUpdateStreamAsync(new StreamConfig(Stream, ["es.bench.*"])
        {
            Storage = StreamConfigStorage.File,
            NumReplicas = replicas,
            DuplicateWindow = TimeSpan.FromMinutes(2),
        }, cancellation).AsTask().GetAwaiter().GetResult();
        try
        {
            var payload = new byte[bytes];
            Random.Shared.NextBytes(payload);
            double seconds;
            using (context.Progress(string.Create(CultureInfo.InvariantCulture, $"publishing {messages} messages of {bytes} bytes to {Stream} (R{replicas})")))
            {
                var watch = Stopwatch.StartNew();
                var tasks = Enumerable.Range(0, publishers).Select(p => Task.Run(async () =>
                {
                    var opts = new NatsJSPubOpts();
                    for (var i = p; i < messages; i += publishers)
                    {
                        var ack = await js.PublishAsync(string.Create(CultureInfo.InvariantCulture, $"es.bench.{p}"), payload, opts: opts with { MsgId = string.Create(CultureInfo.InvariantCulture, $"bench.{p}.{i}") }, cancellationToken: cancellation).ConfigureAwait(false);
                        ack.EnsureSuccess();
                    }
                }, cancellation)).ToArray();
                Task.WhenAll(tasks).GetAwaiter().GetResult();
                seconds = watch.Elapsed.TotalSeconds;
            }

            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{messages} messages of {bytes} bytes, {publishers} publisher(s), R{replicas}: {messages / seconds:F0} messages/s, {messages * (double)bytes / seconds / (1 << 20):F1} MB/s ({seconds:F2} s)"));
        }
        finally
        {
            // The scratch stream goes whatever happened (also after Ctrl+C: the deletion does not take the cancellation).
            js.DeleteStreamAsync(Stream).AsTask().GetAwaiter().GetResult();
        }

        return ExitCodes.Ok;
    }
}
