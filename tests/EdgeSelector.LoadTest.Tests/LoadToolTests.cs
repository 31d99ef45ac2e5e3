using System.Text;

namespace EdgeSelector.LoadTest.Tests;

/// <summary>The load tool's pieces without sockets: distributions, RESP reply framing, argument errors.</summary>
public class LoadToolTests
{
    [Fact]
    public void Zipf_ExponentZero_IsUniformOverTheRange()
    {
        var zipf = new Zipf(101, 10, 0);
        var random = new FastRandom(1);
        var counts = new int[10];
        for (int i = 0; i < 100_000; i++)
        {
            long id = zipf.Next(ref random);
            Assert.InRange(id, 101, 110);
            counts[id - 101]++;
        }

        Assert.All(counts, c => Assert.InRange(c, 9_000, 11_000));
    }

    [Theory]
    [InlineData(0.8)]
    [InlineData(1.0)]
    [InlineData(1.2)]
    public void Zipf_PositiveExponent_FrequenciesFollowThePowerLaw(double s)
    {
        const int N = 1000;
        var zipf = new Zipf(1, N, s);
        var random = new FastRandom(7);
        var counts = new int[N + 1];
        const int Draws = 400_000;
        for (int i = 0; i < Draws; i++)
        {
            long id = zipf.Next(ref random);
            Assert.InRange(id, 1, N);
            counts[id]++;
        }

        double norm = Enumerable.Range(1, N).Sum(k => Math.Pow(k, -s));
        foreach (int k in new[] { 1, 2, 10 })
        {
            double expected = Draws * Math.Pow(k, -s) / norm;
            Assert.InRange(counts[k], expected * 0.93, expected * 1.07);
        }
    }

    [Theory]
    [InlineData("+PONG\r\n", RespReplyKind.Value)]
    [InlineData(":42\r\n", RespReplyKind.Value)]
    [InlineData("-ERR no\r\n", RespReplyKind.Error)]
    [InlineData("$8\r\n12345678\r\n", RespReplyKind.Value)]
    [InlineData("$-1\r\n", RespReplyKind.Nil)]
    [InlineData("*3\r\n:7\r\n$2\r\nab\r\n+x\r\n", RespReplyKind.Value)]
    [InlineData("*-1\r\n", RespReplyKind.Nil)]
    public void RespReply_EveryPrefixIncomplete_WholeReplyMeasured(string reply, RespReplyKind kind)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(reply);
        for (int i = 0; i < bytes.Length; i++)
        {
            Assert.Equal(0, RespReply.TryMeasure(bytes.AsSpan(0, i), out _));
        }

        byte[] twice = [.. bytes, .. bytes];
        Assert.Equal(bytes.Length, RespReply.TryMeasure(twice, out var measured));
        Assert.Equal(kind, measured);
    }

    [Theory]
    [InlineData("--host", "192.0.2.1")]
    [InlineData("-c", "0")]
    [InlineData("--mix", "select=0")]
    [InlineData("--mix", "reward=5")]
    [InlineData("--titles", "5")]
    [InlineData("--duration", "99999")]
    [InlineData("--bogus", "1")]
    [InlineData("--protocol", "http")]
    public void Parse_BadArguments_ThrowWithAMessage(string name, string value)
    {
        var ex = Assert.Throws<ArgumentException>(() => LoadOptions.Parse([name, value]));
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }

    [Fact]
    public void Parse_RemoteHostWithAllowRemote_Accepted()
    {
        var o = LoadOptions.Parse(["--host", "192.0.2.1", "--allow-remote", "--protocol", "resp"]);
        Assert.Equal(6379, o.Port);
    }
}
