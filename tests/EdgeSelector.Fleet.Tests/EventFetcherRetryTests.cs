using System.Globalization;
using System.Text;
using EdgeSelector.Fleet.Events;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Xunit.Abstractions;

namespace EdgeSelector.Fleet.Tests;

/// <summary>
/// The trainer's reads through a leader election (docs/fleet.md, "Failure table"): a 3-server cluster whose consumer
/// leader is killed with SIGKILL between two trainer runs, and the retry helper itself with fakes.
/// </summary>
public sealed class EventFetcherRetryTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(true)] // the old code: OpenAsync's consumer create waited 30 s, "No API response received from the server"
    [InlineData(false)] // the old code: the pull came back empty without an error, the run read 0 of the 450
    public async Task FetchAvailable_ConsumerLeaderKilled_EveryEventReadExactlyOnce(bool openAfterTheKill)
    {
        // 600 messages; a first run reads and acknowledges 150 of them. The server leading the trainer's consumer is
        // killed, and the next run (its consumer opened after the kill, or just before it) pulls at once, while the
        // cluster elects a new leader: a pull then finds no consumer leader and comes back empty (503, no error), and
        // the API requests get no answer. The run must still get the other 450, each once, none of the acknowledged
        // 150 again.
        const int Total = 600;
        const int FirstRun = 150;
        const string Durable = "retry-test";
        using var nats = new NatsCluster(3);
        await using var connection = await FleetConnection.ConnectAsync(nats.Url, "test", TimeSpan.FromSeconds(5));
        await connection.InitTopologyAsync(new FleetTopology { Replicas = 3 });
        var subject = FleetNames.EventSubject(EventKind.Impressions, 1);
        for (var i = 0; i < Total; i++)
        {
            var ack = await connection.JetStream.PublishAsync(subject, Encoding.ASCII.GetBytes(Id(i)), opts: new NatsJSPubOpts { MsgId = Id(i) });
            ack.EnsureSuccess();
        }

        var first = await EventFetcher.OpenAsync(connection, EventKind.Impressions, Durable);
        var firstRun = await first.FetchAvailableAsync(FirstRun);
        Assert.Equal(FirstRun, firstRun.Count);
        await EventFetcher.AckAllAsync(firstRun);

        var opened = openAfterTheKill ? null : await EventFetcher.OpenAsync(connection, EventKind.Impressions, Durable);
        var consumer = await connection.JetStream.GetConsumerAsync(FleetNames.ImpressionStream, Durable);
        var leader = consumer.Info.Cluster?.Leader ?? throw new InvalidOperationException("the consumer reports no leader");
        var killed = int.Parse(leader.AsSpan(1), CultureInfo.InvariantCulture); // NatsCluster names server i "n{i}"
        nats.Kill(killed);
        output.WriteLine($"killed {leader}, the leader of consumer {Durable}");

        var started = System.Diagnostics.Stopwatch.StartNew();
        var second = opened ?? await EventFetcher.OpenAsync(connection, EventKind.Impressions, Durable);
        var secondRun = await second.FetchAvailableAsync(10_000);
        output.WriteLine($"second run: {secondRun.Count} messages in {started.Elapsed.TotalSeconds:F1} s");
        await EventFetcher.AckAllAsync(secondRun);

        var read = firstRun.Concat(secondRun).Select(m => Encoding.ASCII.GetString(m.Data!)).ToList();
        var twice = read.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(twice.Count == 0, $"read more than once: {string.Join(", ", twice.Take(10))}");
        var missing = Enumerable.Range(0, Total).Select(Id).Except(read).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} event(s) never read, e.g. {string.Join(", ", missing.Take(10))}");
        Assert.Equal(Total, read.Count);

        // Nothing waits or is delivered again: a third run reads nothing.
        nats.Restart(killed);
        var third = await EventFetcher.OpenAsync(connection, EventKind.Impressions, Durable);
        Assert.Empty(await third.FetchAvailableAsync(10_000));
        Assert.Equal(0ul, third.Pending);
    }

    [Fact]
    public async Task RunAsync_TransientAnswers_TriedAgainUntilOneSucceeds()
    {
        Exception[] transient =
        [
            new NatsJSApiNoResponseException(),
            new NatsNoRespondersException(),
            new NatsNoReplyException(),
            new NatsJSApiException(new ApiError { Code = 503, Description = "JetStream system temporarily unavailable", ErrCode = 10008 }),
            new NatsJSApiException(new ApiError { Code = 500, Description = "no suitable peers for placement", ErrCode = 10005 }),
            new OperationCanceledException(), // a try that ran out of its own time
        ];
        var tries = 0;
        var result = await FleetRetry.RunAsync(
            _ => tries < transient.Length ? Task.FromException<int>(transient[tries++]) : Task.FromResult(++tries),
            TimeSpan.FromMinutes(1),
            e => new FleetException("gave up", e),
            CancellationToken.None);

        Assert.Equal(transient.Length + 1, result);
        Assert.Equal(transient.Length + 1, tries);
    }

    [Fact]
    public async Task RunAsync_OtherErrors_ThrownAtOnce()
    {
        var tries = 0;
        var missing = new NatsJSApiException(new ApiError { Code = 404, Description = "stream not found", ErrCode = 10059 });
        var thrown = await Assert.ThrowsAsync<NatsJSApiException>(() => FleetRetry.RunAsync<int>(
            _ =>
            {
                tries++;
                return Task.FromException<int>(missing);
            },
            TimeSpan.FromMinutes(1),
            e => new FleetException("gave up", e),
            CancellationToken.None));

        Assert.Same(missing, thrown);
        Assert.Equal(1, tries);
    }

    [Fact]
    public async Task RunAsync_StillTransientWhenTheWaitIsOver_GivesUpWithTheCallersMessage()
    {
        var tries = 0;
        var thrown = await Assert.ThrowsAsync<FleetException>(() => FleetRetry.RunAsync<int>(
            _ =>
            {
                tries++;
                return Task.FromException<int>(new NatsJSApiNoResponseException());
            },
            TimeSpan.FromSeconds(1),
            e => new FleetException("stream X: " + FleetRetry.Reason(e), e),
            CancellationToken.None));

        Assert.StartsWith("stream X: ", thrown.Message, StringComparison.Ordinal);
        Assert.IsType<NatsJSApiNoResponseException>(thrown.InnerException);
        Assert.True(tries >= 2, $"{tries} tries");
    }

    private static string Id(int i) => string.Create(CultureInfo.InvariantCulture, $"event-{i:D4}");
}
