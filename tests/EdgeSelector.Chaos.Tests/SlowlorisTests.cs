using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using EdgeSelector.Chaos.Tests.Infrastructure;
using EdgeSelector.Protocol;
using Xunit.Abstractions;

namespace EdgeSelector.Chaos.Tests;

/// <summary>
/// Slowloris on the binary and RESP ports at once (docs/protocol.md#limits, docs/resp.md#limits): sockets sending one
/// byte a second are closed by the frame deadline with the documented goodbye, other clients on both ports are served
/// all along, each port's connection budget is its own, the admin port is untouched, and the connection gauges return
/// to what the well-behaved clients hold. One node for the class; every wait has a deadline.
/// </summary>
public sealed class SlowlorisTests(SlowlorisTests.Node fixture, ITestOutputHelper output) : IClassFixture<SlowlorisTests.Node>
{
    public const int FrameSeconds = 2;
    public const int IdleSeconds = 8;
    public const int Budget = 10;

    // The documented bound: the deadline, plus one heartbeat (1 s), plus slack for a loaded 2-core machine.
    private static readonly TimeSpan CloseBound = TimeSpan.FromSeconds(FrameSeconds + 1 + 5);
    private static readonly TimeSpan Early = TimeSpan.FromSeconds(FrameSeconds - 0.5);

    // A well-behaved client's answer may wait behind a loaded machine, never behind a slow socket.
    private static readonly TimeSpan ServedBound = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task SlowSocketsBelowTheBudget_OnBothPorts_ClosedByTheFrameDeadline_OthersServedThroughout()
    {
        var node = fixture.Chaos;
        for (var wave = 1; wave <= ChaosBudget.SlowlorisWaves; wave++)
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var slow = new List<(Socket Socket, string Port, Task<(byte[]? Answer, TimeSpan After)> Closed, Task Trickle)>();
            var legit = ServeWellBehavedAsync(node, stop.Token);
            try
            {
                // Budget - 2 slow sockets a port (the well-behaved clients keep their place): half trickle the whole
                // request, half send the header (or the array length) at once and trickle the rest.
                for (var i = 0; i < Budget - 2; i++)
                {
                    var burst = i % 2 == 0 ? 0 : FrameHeader.Size;
                    slow.Add(await SlowAsync(node.BinaryPort, "binary", RawSocket.SelectPage((ulong)i + 1), burst, stop.Token));
                    slow.Add(await SlowAsync(node.RespPort, "resp", "*2\r\n$4\r\nPING\r\n$12\r\nslow-loris-1\r\n"u8.ToArray(), i % 2 == 0 ? 0 : 4, stop.Token));
                }

                foreach (var (socket, port, closed, trickle) in slow)
                {
                    var (answer, after) = await closed;
                    Assert.True(answer is not null, $"a slow {port} socket was not closed within {CloseBound.TotalSeconds} s");
                    Assert.True(after >= Early, $"a slow {port} socket was closed after {after.TotalSeconds:F1} s, before the frame deadline ({FrameSeconds} s)");
                    if (port == "binary")
                    {
                        Assert.Equal(ErrorCode.IdleTimeout, RawSocket.ErrorOf(answer!));
                    }
                    else
                    {
                        Assert.Equal("-ERR command timeout\r\n", Encoding.ASCII.GetString(answer!));
                    }
                }

                output.WriteLine($"wave {wave}: {slow.Count} slow sockets closed after {slow.Min(s => s.Closed.Result.After.TotalSeconds):F1}-{slow.Max(s => s.Closed.Result.After.TotalSeconds):F1} s");
            }
            finally
            {
                await stop.CancelAsync();
                await Task.WhenAll(slow.Select(s => s.Trickle));
                slow.ForEach(s => s.Socket.Dispose());
            }

            var served = await legit;
            output.WriteLine($"wave {wave}: well-behaved clients {served.Count} answers, slowest {served.Max().TotalMilliseconds:F0} ms");
            Assert.True(served.Count >= 20, $"the well-behaved clients got only {served.Count} answers during the wave");
            Assert.True(served.Max() < ServedBound, $"a well-behaved client waited {served.Max().TotalSeconds:F1} s for an answer");

            // No slow socket is still counted: the gauges go back to zero once the well-behaved clients left too.
            await WaitForGaugesAsync(node, binary: 0, resp: 0);
        }
    }

    [Fact]
    public async Task SlowSocketsBeyondTheBudget_OnBothPorts_RefusedPerPort_AdminServed_BothPortsRecover()
    {
        var node = fixture.Chaos;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var slow = new List<(Socket Socket, string Port, Task<(byte[]? Answer, TimeSpan After)> Closed, Task Trickle)>();
        try
        {
            // Budget + 3 on each port: the first Budget take the port, the other three are refused at once.
            for (var i = 0; i < Budget + 3; i++)
            {
                slow.Add(await SlowAsync(node.BinaryPort, "binary", RawSocket.Ping((ulong)i + 1), 0, stop.Token));
                slow.Add(await SlowAsync(node.RespPort, "resp", "*1\r\n$4\r\nPING\r\n"u8.ToArray(), 0, stop.Token));
            }

            // While both budgets are held: the admin port (its own HTTP listener) answers at once.
            var clock = Stopwatch.StartNew();
            using (var health = await node.Http.GetAsync("/healthz"))
            {
                Assert.True(health.IsSuccessStatusCode, $"/healthz answered {(int)health.StatusCode} while both TCP ports were full");
            }

            Assert.True(clock.Elapsed < ServedBound, $"/healthz took {clock.Elapsed.TotalSeconds:F1} s while both TCP ports were full");

            var answers = await Task.WhenAll(slow.Select(s => s.Closed));
            var binaryRefused = slow.Where(s => s.Port == "binary").Count(s => s.Closed.Result.Answer is { } a && RawSocket.ErrorOf(a) == ErrorCode.TooManyConnections);
            var respRefused = slow.Where(s => s.Port == "resp").Count(s => s.Closed.Result.Answer is { } a && Encoding.ASCII.GetString(a) == "-ERR max number of clients reached\r\n");
            Assert.All(answers, a => Assert.True(a.Answer is not null, $"a socket was neither refused nor closed within {CloseBound.TotalSeconds} s"));
            Assert.Equal(3, binaryRefused);
            Assert.Equal(3, respRefused);
            var timedOut = slow.Count(s => s.Port == "binary" ? RawSocket.ErrorOf(s.Closed.Result.Answer!) == ErrorCode.IdleTimeout : Encoding.ASCII.GetString(s.Closed.Result.Answer!) == "-ERR command timeout\r\n");
            Assert.Equal(2 * Budget, timedOut);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(slow.Select(s => s.Trickle));
            slow.ForEach(s => s.Socket.Dispose());
        }

        // Both ports serve again, at once.
        await WaitForGaugesAsync(node, binary: 0, resp: 0);
        var served = await ServeWellBehavedAsync(node, new CancellationTokenSource(TimeSpan.FromSeconds(2)).Token);
        Assert.True(served.Count >= 4, $"after the flood the ports answered only {served.Count} requests in 2 s");
    }

    private static async Task<(Socket, string, Task<(byte[]?, TimeSpan)>, Task)> SlowAsync(int port, string name, byte[] request, int burst, CancellationToken stop)
    {
        var socket = await RawSocket.ConnectAsync(port);
        var clock = Stopwatch.StartNew();
        var trickle = RawSocket.TrickleAsync(socket, request, burst, TimeSpan.FromSeconds(1), stop);
        var closed = Task.Run(async () => (await RawSocket.ReadUntilClosedAsync(socket, CloseBound), clock.Elapsed));
        return (socket, name, closed, trickle);
    }

    // A binary client and a RESP client, each one request every 100 ms until stopped (at most 600 each): the time
    // each answer took. Any failure fails the test: a well-behaved client is never refused or dropped.
    private static async Task<List<TimeSpan>> ServeWellBehavedAsync(ChaosNode node, CancellationToken stop)
    {
        var times = new ConcurrentBag<TimeSpan>();
        async Task Binary()
        {
            await using var client = node.Client();
            for (ulong i = 1; i <= 600 && !stop.IsCancellationRequested; i++)
            {
                var clock = Stopwatch.StartNew();
                Assert.Equal(i, await client.PingAsync(i));
                times.Add(clock.Elapsed);
                await Delay(stop);
            }
        }

        async Task Resp()
        {
            using var socket = await RawSocket.ConnectAsync(node.RespPort);
            for (var i = 0; i < 600 && !stop.IsCancellationRequested; i++)
            {
                var clock = Stopwatch.StartNew();
                await socket.SendAsync("*1\r\n$4\r\nPING\r\n"u8.ToArray());
                Assert.Equal("+PONG\r\n", Encoding.ASCII.GetString(await RawSocket.ReadExactlyAsync(socket, 7, TimeSpan.FromSeconds(10))));
                times.Add(clock.Elapsed);
                await Delay(stop);
            }
        }

        await Task.WhenAll(Binary(), Resp());
        return [.. times];
    }

    private static async Task Delay(CancellationToken stop)
    {
        try
        {
            await Task.Delay(100, stop);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task WaitForGaugesAsync(ChaosNode node, int binary, int resp)
    {
        var clock = Stopwatch.StartNew();
        string metrics;
        do
        {
            metrics = await node.Http.GetStringAsync("/metrics");
            if (Gauge(metrics, "binary") == binary && Gauge(metrics, "resp") == resp)
            {
                return;
            }

            await Task.Delay(100);
        }
        while (clock.Elapsed < CloseBound);
        Assert.Fail($"connections still open after {CloseBound.TotalSeconds} s: binary {Gauge(metrics, "binary")}, resp {Gauge(metrics, "resp")}");
    }

    private static int Gauge(string metrics, string listener)
    {
        var match = Regex.Match(metrics, $"^edgeselector_connections\\{{listener=\"{listener}\"\\}} (\\d+)$", RegexOptions.Multiline);
        return match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }

    /// <summary>One node for the class, with short deadlines and small per-port budgets.</summary>
    public sealed class Node : IAsyncLifetime
    {
        private readonly TempDirectory _dir = new("es-chaos-slow-");

        internal ChaosNode Chaos { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Chaos = ChaosNode.Start(
                _dir.Path,
                $"--EdgeSelector:FrameTimeoutSeconds={FrameSeconds}",
                $"--EdgeSelector:IdleTimeoutSeconds={IdleSeconds}",
                $"--EdgeSelector:MaxConnections={Budget}",
                $"--EdgeSelector:RespMaxConnections={Budget}");
            await Chaos.WaitReadyAsync();
        }

        public Task DisposeAsync()
        {
            Chaos.Dispose();
            _dir.Dispose();
            return Task.CompletedTask;
        }
    }
}
