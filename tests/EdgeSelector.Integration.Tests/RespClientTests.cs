using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StackExchange.Redis;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// The RESP front door against the clients people use (docs/resp.md): redis-cli (Debian's redis-tools) and
/// StackExchange.Redis with its default configuration: each connects with its own handshake, reads INFO with its own
/// parser, asks for artwork and pipelines a batch. Loopback only, every wait bounded.
/// </summary>
public class RespClientTests
{
    private const string Select1001 = "ART.SELECT 1001 1 COUNTRY US DEVICE 1 HOUR 21 DOW 5"; // docs/resp.md: (integer) 100102

    [Fact]
    public async Task RedisCli_Info_EverySectionInRedisLayout()
    {
        var (server, port) = await StartAsync();
        await using var live = server;
        var (exitCode, output, error) = await RedisCli.RunAsync(port, null, "INFO");
        Assert.True(exitCode == 0, error);
        var sections = ParseInfo(output);
        Assert.Equal(["Server", "Clients", "Stats", "Replication", "Keyspace"], sections.Keys);
        Assert.Equal("7.0.0", sections["Server"]["redis_version"]);
        Assert.Equal(port.ToString(CultureInfo.InvariantCulture), sections["Server"]["tcp_port"]);
        Assert.Equal("1", sections["Clients"]["connected_clients"]); // redis-cli itself
        Assert.StartsWith("titles=12,bundle=1,", sections["Keyspace"]["models"], StringComparison.Ordinal);

        (exitCode, output, _) = await RedisCli.RunAsync(port, null, "INFO", "keyspace");
        Assert.Equal(0, exitCode);
        Assert.Equal(["Keyspace"], ParseInfo(output).Keys);

        (exitCode, output, _) = await RedisCli.RunAsync(port, null, "INFO", "everything");
        Assert.Equal(0, exitCode);
        Assert.Equal(5, ParseInfo(output).Count);

        (exitCode, output, _) = await RedisCli.RunAsync(port, null, "INFO", "nosuchsection");
        Assert.Equal(0, exitCode);
        Assert.Empty(ParseInfo(output));
    }

    [Fact]
    public async Task RedisCli_ConnectCommands_AnswerAsRedisDoes()
    {
        var (server, port) = await StartAsync();
        await using var live = server;
        // Commands from stdin, one per line, on one connection (what a script piping into redis-cli does).
        var (exitCode, output, error) = await RedisCli.RunAsync(
            port,
            "PING\nECHO hello\nSELECT 0\nSELECT 1\nCLIENT SETNAME tests\nCLIENT GETNAME\nCLIENT SETINFO LIB-NAME x\nCONFIG GET databases\nCOMMAND COUNT\nCLUSTER INFO\nHELLO 3\n" + Select1001 + "\n",
            "--no-raw");
        Assert.True(exitCode == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
            [
                "PONG", "\"hello\"", "OK", "(error) ERR DB index is out of range", "OK", "\"tests\"", "OK",
                "1) \"databases\"", "2) \"1\"", "(integer) 14", "ERR This instance has cluster support disabled", // redis-cli prints CLUSTER replies raw
                "(error) NOPROTO unsupported protocol version", "(integer) 100102",
            ],
            lines);
    }

    [Fact]
    public async Task RedisCli_PipeMode_ThousandCommandsOneBatch_NoErrors()
    {
        var (server, port) = await StartAsync();
        await using var live = server;
        var input = new StringBuilder();
        for (var i = 0; i < 1000; i++)
        {
            input.Append(Encode("ART.SELECT", (1001 + (i % 12)).ToString(CultureInfo.InvariantCulture), (1 + (i % 50)).ToString(CultureInfo.InvariantCulture)));
        }

        // --pipe writes everything, then an ECHO with a random marker, and reads until the marker comes back.
        var (exitCode, output, error) = await RedisCli.RunAsync(port, input.ToString(), "--pipe");
        Assert.True(exitCode == 0, output + error);
        Assert.Contains("errors: 0, replies: 1000", output, StringComparison.Ordinal);
        Assert.Equal(1000, server.Node.Metrics.Requests(EdgeSelector.Server.Metrics.RequestKind.Select));
    }

    [Fact]
    public async Task StackExchangeRedis_DefaultConfiguration_ConnectsPingsAndSelects()
    {
        var (server, port) = await StartAsync();
        await using var live = server;
        await using var redis = await Connect(port, "edgeselector-tests");
        Assert.True(redis.IsConnected);
        var db = redis.GetDatabase();
        Assert.True(await db.PingAsync() < TimeSpan.FromSeconds(10));
        Assert.Equal(ServerType.Standalone, redis.GetServer(IPAddress.Loopback.ToString(), port).ServerType);

        // The front door's SELECT commands (docs/resp.md, "Commands"): GET, ART.SELECT, ART.SELECT WITHMETA, ART.PAGE.
        Assert.Equal(100102, (long)await db.ExecuteAsync("ART.SELECT", Select1001.Split(' ')[1..]));
        var image = await db.StringGetAsync("1:1001");
        Assert.True(ulong.TryParse(image.ToString(), CultureInfo.InvariantCulture, out var id) && id > 0, $"GET 1:1001 answered {image}");
        var meta = (RedisResult[])(await db.ExecuteAsync("ART.SELECT", "1001", "1", "WITHMETA"))!;
        Assert.Equal(5, meta.Length);
        Assert.True((ulong)meta[1] != 0, "an event id");
        var page = (RedisResult[])(await db.ExecuteAsync("ART.PAGE", "1", "1001", "1002", "1003"))!;
        Assert.Equal(3, page.Length);
        Assert.All(page, image => Assert.True((long)image > 0));

        // The handshake named the connection (CLIENT SETNAME) and the library (CLIENT SETINFO).
        Assert.Equal("edgeselector-tests", (string?)await db.ExecuteAsync("CLIENT", "GETNAME"));
        Assert.Contains("lib-name=SE.Redis", (string?)await db.ExecuteAsync("CLIENT", "INFO"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StackExchangeRedis_ServerInfo_ParsedByTheClient()
    {
        var (server, port) = await StartAsync();
        await using var live = server;
        await using var redis = await Connect(port, null, allowAdmin: true); // the client's rule for INFO, as against Redis
        var node = redis.GetServer(IPAddress.Loopback.ToString(), port);
        var info = (await node.InfoAsync()).ToDictionary(g => g.Key, g => g.ToDictionary(kv => kv.Key, kv => kv.Value));
        Assert.Equal(["Server", "Clients", "Stats", "Replication", "Keyspace"], info.Keys);
        Assert.Equal("standalone", info["Server"]["redis_mode"]);
        Assert.Equal("master", info["Replication"]["role"]);
        Assert.StartsWith("titles=12,", info["Keyspace"]["models"], StringComparison.Ordinal);
        Assert.Equal(new Version(7, 0, 0), node.Version); // read from redis_version by the client

        var keyspace = Assert.Single(await node.InfoAsync("keyspace"));
        Assert.Equal("Keyspace", keyspace.Key);
        var stats = Assert.Single(await node.InfoAsync("stats"));
        Assert.Contains(stats, kv => kv.Key == "total_connections_received" && long.Parse(kv.Value, CultureInfo.InvariantCulture) >= 1);
    }

    [Fact]
    public async Task StackExchangeRedis_PipelinedBatch_AnswersInOrder()
    {
        var (server, port) = await StartAsync();
        await using var live = server;
        await using var redis = await Connect(port, null);
        var db = redis.GetDatabase();
        var expected = new long[12];
        for (var t = 0; t < expected.Length; t++)
        {
            expected[t] = (long)await db.ExecuteAsync("ART.SELECT", (1001 + t).ToString(CultureInfo.InvariantCulture), "7", "COUNTRY", "US", "DEVICE", "1", "HOUR", "21", "DOW", "5");
        }

        // One batch of 500 commands: sent together, answered in order (the same member and context: the same choices).
        var batch = db.CreateBatch();
        var pending = new List<(int Title, Task<RedisResult> Reply)>();
        for (var i = 0; i < 500; i++)
        {
            var t = i % expected.Length;
            pending.Add((t, batch.ExecuteAsync("ART.SELECT", (1001 + t).ToString(CultureInfo.InvariantCulture), "7", "COUNTRY", "US", "DEVICE", "1", "HOUR", "21", "DOW", "5")));
        }

        batch.Execute();
        var replies = await Task.WhenAll(pending.Select(p => p.Reply)).WaitAsync(TimeSpan.FromSeconds(30));
        for (var i = 0; i < replies.Length; i++)
        {
            Assert.Equal(expected[pending[i].Title], (long)replies[i]);
        }
    }

    private static async Task<ConnectionMultiplexer> Connect(int port, string? clientName, bool allowAdmin = false)
    {
        var options = new ConfigurationOptions
        {
            EndPoints = { { IPAddress.Loopback, port } },
            ConnectTimeout = 10_000,
            SyncTimeout = 10_000,
            AsyncTimeout = 10_000,
            ConnectRetry = 1,
            ClientName = clientName,
            AllowAdmin = allowAdmin,
        };
        var log = new StringWriter();
        try
        {
            return await ConnectionMultiplexer.ConnectAsync(options, log);
        }
        catch (RedisConnectionException e)
        {
            throw new Xunit.Sdk.XunitException($"StackExchange.Redis could not connect: {e.Message}\n{log}");
        }
    }

    // "# Section" then "field:value" lines, CRLF (redis-cli prints the bulk string as it came).
    private static Dictionary<string, Dictionary<string, string>> ParseInfo(string text)
    {
        var sections = new Dictionary<string, Dictionary<string, string>>();
        Dictionary<string, string>? current = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("# ", StringComparison.Ordinal))
            {
                current = sections[line[2..]] = [];
            }
            else if (line.Length > 0)
            {
                Assert.NotNull(current);
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                Assert.True(colon > 0, $"not a field line: {line}");
                current[line[..colon]] = line[(colon + 1)..];
            }
        }

        return sections;
    }

    private static string Encode(params string[] args)
    {
        var sb = new StringBuilder();
        sb.Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args)
        {
            sb.Append('$').Append(Encoding.ASCII.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        }

        return sb.ToString();
    }

    private static async Task<(LiveServer Server, int RespPort)> StartAsync()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        return (await LiveServer.StartAsync(extra: [$"--EdgeSelector:RespPort={port}"]), port);
    }
}
